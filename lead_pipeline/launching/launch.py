"""Materialize workflows from code (the CLI, tests, benchmarks) the way the UI does.

Runs go through ``execute_job`` on the reconstructable chain job in the
persistent instance, so they use the multiprocess executor, land in the same
event log and show in the UI. ``execute_job`` blocks; progress is read from the
lead store meanwhile, where every node result lands the moment it finishes.

Dagster is imported only once a run will be launched: deciding that there is
nothing to do needs the store and the workflows, not Dagster's second of imports.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lead_pipeline.engine.compile import CompiledWorkflow
from lead_pipeline.engine.counts import Outcomes
from lead_pipeline.engine.options import RunRequest
from lead_pipeline.engine.planning import plan_workflows
from lead_pipeline.engine.registry import registry
from lead_pipeline.engine.runlock import mark_launcher
from lead_pipeline.engine.selection import Selection
from lead_pipeline.engine.workflow_run import WorkflowRun
from lead_pipeline.launching.outcome import Failure, RunOutcome, outcome_of
from lead_pipeline.launching.stepserver import start_step_server
from lead_pipeline.settings import get_settings
from lead_pipeline.store import LeadStore
from lead_pipeline.workflows.loader import load_workflows


@dataclass
class RunProgress(Outcomes):
    """One workflow's run so far, its rows counted as the run's summary counts them
    (``engine/counts.py``): ``selected`` is None until its select step has chosen."""

    workflow: str
    selected: int | None = None


ProgressFn = Callable[[list[RunProgress]], None]


@dataclass
class LaunchResult:
    """``rows_failed``: the run stopped because rows failed (a failure rate above the
    limit, or a blocking check), not because a workflow could not run."""

    success: bool
    dagster_run_id: str | None
    workflows: list[str]
    skipped: dict[str, str] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    step_log: Path | None = None
    rows_failed: bool = False
    broken: list[str] = field(default_factory=list)  # workflow files that did not load
    # Set when no Dagster run was launched because no workflow had anything to do.
    up_to_date: dict[str, Selection] = field(default_factory=dict)


def run_config(options: dict[str, Any], log_level: str = "WARNING") -> dict[str, Any]:
    """Launchpad-shaped run config: the options go to the ``enrich`` resource.

    The console logger is quieted for command-line runs (the progress bar says
    what matters); the full event log is still in the instance and the UI.
    """
    config = {k: v for k, v in options.items() if v is not None}
    if "params" in config:
        config["params"] = {k: str(v) for k, v in config["params"].items()}
    return {
        "resources": {"enrich": {"config": config}},
        "loggers": {"console": {"config": {"log_level": log_level}}},
    }


def enrich(
    lead_list: str,
    requested: str = "all",
    options: dict[str, Any] | None = None,
    *,
    store: LeadStore | None = None,
    on_progress: ProgressFn | None = None,
    poll_seconds: float = 1.0,
    step_log: Path | None = None,
    selected: Mapping[str, Selection] | None = None,
) -> LaunchResult:
    """Run the workflows; ``step_log`` takes the step processes' console output.

    ``selected``: workflows' selections made a moment ago with the same options (the
    plan ``enrich`` priced the run from), reused to decide whether there is anything to
    do: selecting a 100,000-row list again cost as much as the first time.

    Dagster's step workers print their own DEBUG lines to the terminal before
    any run config applies; a command-line user wants the progress bar instead,
    and the full event log stays in the instance and the UI either way.
    """
    store = store or LeadStore()
    store.require_list(lead_list)
    loaded = load_workflows(node_types=registry(), set_aside_broken=True)
    every = loaded.usable_for(requested)
    # The select step refuses unknown parameters too; checking here avoids a failed run.
    config = run_config(options or {})["resources"]["enrich"]["config"]
    checked = RunRequest(**config)
    checked.check_params(name for w in every for name in w.spec.params)
    for workflow in every:  # and of the right type: llm_threshold=abc is refused here
        workflow.params(checked.for_workflow(workflow).params)
    workflows, skipped = plan_workflows(requested, every)
    if not workflows:
        return LaunchResult(
            success=True, dagster_run_id=None, workflows=[], skipped=skipped, broken=loaded.broken
        )
    idle = (
        None
        if checked.plan_only
        else _nothing_to_do(store, lead_list, workflows, checked, selected or {})
    )
    if idle is not None:
        return LaunchResult(
            success=True,
            dagster_run_id=None,
            workflows=[w.name for w in workflows],
            skipped=skipped,
            broken=loaded.broken,
            up_to_date=idle,
        )
    launcher = mark_launcher()  # inherited by the step processes: see engine/runlock.py
    nodes = {w.name: [n.id for n in w.nodes] for w in workflows}
    launched = store.latest_run_id()
    follow = _Follow(store, lead_list, nodes, launched, on_progress, poll_seconds)
    with _stderr_to(step_log):
        # The step server imports Dagster and builds the definitions while this process
        # does the same: the run's first step does not wait for it (launching/stepserver.py).
        start_step_server()
        outcome = _run(follow, workflows, options, launcher.text())
    if on_progress is not None:
        on_progress(follow.progress())
    run_id = outcome.run_id
    runs = [
        r
        for r in store.recent_runs(lead_list, limit=50)
        if run_id and r["dagster_run_id"] == run_id
    ]
    return LaunchResult(
        success=outcome.success,
        dagster_run_id=run_id,
        workflows=[w.name for w in workflows],
        skipped=skipped,
        runs=sorted(runs, key=lambda r: r["id"]),
        error=outcome.error,
        step_log=step_log,
        rows_failed=outcome.rows_failed,
        broken=loaded.broken,
    )


@dataclass
class _Follow:
    """How a launched run is followed: its store, its rows' progress, how often."""

    store: LeadStore
    lead_list: str
    nodes: dict[str, list[str]]  # each workflow's node ids
    after: int  # the store's last run id before this run
    on_progress: ProgressFn | None
    poll_seconds: float

    def progress(self) -> list[RunProgress]:
        return run_progress(self.store, self.lead_list, self.nodes, after=self.after)


def _run(
    follow: _Follow,
    workflows: list[CompiledWorkflow],
    options: dict[str, Any] | None,
    launcher: str,
) -> RunOutcome:
    """Execute the chain job for ``workflows`` and follow it to its end; a run that
    stalled is given up on, and its outcome says what Dagster knew."""
    # Imported when a run starts: Dagster and the definitions cost 2.4 s of CPU beyond what
    # ``lead-pipeline --help`` loads, which `enrich --plan` and a run with nothing to do
    # never pay (measured at load 20 on 2 cores).
    import dagster as dg

    from lead_pipeline.defs.definitions import chain_job
    from lead_pipeline.defs.partitions import instance, register_lead_list
    from lead_pipeline.launching.deadruns import LAUNCHER_TAG, fail_runs_of_dead_launchers
    from lead_pipeline.launching.stall import STALLED_RUN_WIND_DOWN_S, StallWatch, give_up

    lead_list = follow.lead_list
    dagster_instance = instance()
    register_lead_list(lead_list, dagster_instance)
    fail_runs_of_dead_launchers(dagster_instance)  # a killed command's runs end here
    ended: list[RunOutcome] = []  # the run's thread puts its outcome here

    def execute() -> None:
        try:
            result = dg.execute_job(
                dg.reconstructable(chain_job),
                instance=dagster_instance,
                run_config=run_config(options or {}),
                tags={
                    "dagster/partition": lead_list,
                    "lead_pipeline/source": "cli",
                    LAUNCHER_TAG: launcher,
                },
                asset_selection=[dg.AssetKey(w.name) for w in workflows],
            )
            ended.append(outcome_of(result))
        except Exception as exc:  # surfaced to the caller below, not swallowed
            ended.append(
                RunOutcome(False, error=f"{type(exc).__name__}: {exc}", failure=Failure.OTHER)
            )

    thread = threading.Thread(target=execute, name="lead-pipeline-run", daemon=True)
    thread.start()
    watch = StallWatch(dagster_instance, get_settings().run_stall_timeout_s)
    wait = follow.poll_seconds
    while thread.is_alive():
        thread.join(wait)
        polled = time.perf_counter()
        progress = follow.progress()
        # Counting a big run's rows takes a while (0.3 s at 100,000 results) and the
        # shards want the cores: poll no more than a tenth of the time.
        wait = max(follow.poll_seconds, 10 * (time.perf_counter() - polled))
        if follow.on_progress is not None:
            follow.on_progress(progress)
        if thread.is_alive() and watch.stalled(repr(progress)):
            # The run never ends by itself: stop waiting, say what Dagster knows.
            stalled = give_up(dagster_instance, launcher, watch.limit_s)
            # Its steps are ended: let Dagster log that to the step log, not the terminal.
            thread.join(STALLED_RUN_WIND_DOWN_S)
            return stalled
    return ended[0]


def _nothing_to_do(
    store: LeadStore,
    lead_list: str,
    workflows: list[CompiledWorkflow],
    options: RunRequest,
    selected: Mapping[str, Selection],
) -> dict[str, Selection] | None:
    """Each workflow's selection when none has a row to process or a record to write.

    Then a run would only start processes and say so: launching a Dagster run
    costs seconds (docs/performance.md), so none is launched. If any workflow
    has work, the run goes ahead for all of them (a later one may get work
    from an earlier one). Each workflow's run decides (``WorkflowRun.nothing_to_do``).
    """
    selections = {}
    for workflow in workflows:
        known = selected.get(workflow.name)
        if known is not None:  # the plan's, with these options, a moment ago
            selection = known if known.nothing_to_do else None
        else:
            run = WorkflowRun(store, workflow, lead_list, options.for_workflow(workflow))
            selection = run.nothing_to_do()
        if selection is None:
            return None
        selections[workflow.name] = selection
    return selections


def run_progress(
    store: LeadStore, lead_list: str, nodes: dict[str, list[str]], *, after: int
) -> list[RunProgress]:
    """Each workflow's run record newer than ``after``, counted as the run's summary counts.

    Only this run's rows: the counts come from ``LeadStore.run_counts``, the
    same query the summarize step closes the run record with, so the last
    progress line and the closing summary show the same figures.
    """
    progress = {name: RunProgress(name) for name in nodes}
    for record in store.recent_runs(lead_list, limit=50):
        entry = progress.get(record["workflow"])
        if record["id"] <= after or entry is None or entry.selected is not None:
            continue
        entry.selected = int((record["params"] or {}).get("selected", 0))
        counts = store.run_counts(record["id"], nodes[record["workflow"]])
        entry.set_outcomes(counts.ok, counts.failed, no_answer=counts.skipped)
    return list(progress.values())


@contextmanager
def _stderr_to(path: Path | None) -> Iterator[None]:
    """Point file descriptor 2 at ``path`` while a run executes.

    Step processes (forked from a forkserver started during the run) inherit
    the descriptor, so their console output lands in the file, not the terminal.
    Python gives a forkserver no stderr of its own: it and every process it forks
    write to the descriptor 2 of the process that started it, so the descriptor is
    what is redirected. Without it, Dagster's step processes print into the progress
    bar: a 20-row ``enrich --workflow b2b_only`` wrote 4 lines (876 bytes, one
    ``STEP_WORKER_STARTED`` per step) to this file; each shard, warning or plugin
    ``print`` adds more.
    """
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    with path.open("wb") as log:  # the last run's output, per lead list
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
