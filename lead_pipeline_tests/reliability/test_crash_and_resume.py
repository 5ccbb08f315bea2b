"""SIGKILL the whole run mid-way, several times: the re-run pays only for what was lost.

One lead list goes through four ``lead-pipeline enrich`` runs. Three are killed
(the CLI, the forkserver and every Dagster step process, with SIGKILL) at
different points, each re-run starting at once although the killed run's lock
is still fresh (its command is gone); the last one finishes. The provider
stand-in counts calls per (row, node):
a node whose result was ok in the store when a run died is never called
again, a node that was in flight is called again once, and the final table is
the one an uninterrupted run produces on a fresh store.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from lead_pipeline.defs.partitions import instance as dagster_instance
from lead_pipeline.store import LeadStore
from lead_pipeline_tests.reliability.harness import (
    LEAD,
    NODES,
    WORKFLOW,
    WORKFLOW_YAML,
    Enrich,
    RowApi,
    cli_env,
    enrich_args,
    lead_rows,
    ok_nodes,
    trusted,
    wait_for,
    write_workflow,
)

pytestmark = pytest.mark.slow(minutes=3)
ROWS = 30
ARGS = enrich_args("--shard-size", "10", "--max-shards", "2")


@pytest.fixture
def api() -> Iterator[RowApi]:
    with RowApi(latency=0.01) as server:
        yield server


def _uninterrupted(api: RowApi, workflows: Path, tmp_path: Path) -> dict:
    fresh = tmp_path / "fresh"
    env = cli_env(
        workflows,
        LEAD_PIPELINE_DATA_DIR=str(fresh),
        DAGSTER_HOME=str(fresh / "dagster_home"),
        **trusted(api),
    )
    env.pop("LEAD_PIPELINE_DB_URL", None)  # the reference run: a fresh SQLite store
    store = LeadStore(f"sqlite:///{fresh / 'lead_pipeline.db'}")
    store.import_rows(LEAD, lead_rows(ROWS))
    before = api.snapshot()
    done = Enrich(env, tmp_path / "out-fresh", *ARGS).wait()
    assert done.code == 0, done.output
    assert api.snapshot() - before == Counter(
        {(row, node): 1 for row, _ in lead_rows(ROWS) for node in NODES}
    )
    frame = store.wide_frame(LEAD).to_dict("records")
    store.dispose()
    return frame


def test_killed_runs_resume_without_calling_finished_nodes_again(
    api: RowApi, tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On both backends: results share commits (group commit) and must still be durable.
    monkeypatch.setenv("LEAD_PIPELINE_DB_URL", db_url)
    workflows = write_workflow(tmp_path / "workflows", WORKFLOW_YAML.format(base=api.root_url))
    env = cli_env(workflows, **trusted(api))
    store = LeadStore()
    store.import_rows(LEAD, lead_rows(ROWS))
    # Per kill: the (row, node) pairs ok in the store, the calls so far, the calls in flight.
    kills: list[tuple[set[tuple[str, str]], Counter[tuple[str, str]], set[tuple[str, str]]]] = []
    per_run: list[Counter[tuple[str, str]]] = []

    def killed_run(out: str, hold_after: int, extra_env: dict[str, str], settle: bool) -> None:
        """Start a run, let ``hold_after`` calls through, then kill it with the rest in flight."""
        before = api.snapshot()
        api.hold_after(hold_after)
        saved_before = len(ok_nodes(store))
        run = Enrich({**env, **extra_env}, tmp_path / out, *ARGS)
        run.reaches(api.tripped.is_set, "the held call")
        if settle:
            # Every answered call's result lands; the held ones cannot: a known state.
            wait_for(lambda: len(ok_nodes(store)) == saved_before + hold_after, "saves")
        finished = run.kill()
        assert finished.code == -9
        at_kill = api.snapshot()
        saved = ok_nodes(store)
        in_flight = {pair for pair in at_kill - before if pair not in saved}
        assert in_flight, "the kill must catch calls in flight"
        kills.append((saved, at_kill, in_flight))
        per_run.append(at_kill - before)
        api.release()  # let the held server threads answer into the void

    # 1. Killed after 8 calls, once those 8 results are saved.
    killed_run("out-1", 8, {}, settle=True)
    (first_run,) = [r for r in store.recent_runs(LEAD) if r["status"] == "running"]
    first_id = first_run["dagster_run_id"]

    # 2. The dead run's lock is still fresh, but the command that held it is gone: the
    #    user's immediate re-run starts at once (no waiting out the 120 s heartbeat rule),
    #    and Dagster is told the killed run failed instead of leaving it STARTED.
    assert store.run_lock(LEAD, WORKFLOW) is not None
    killed_run("out-2", 20, {}, settle=False)
    instance = dagster_instance()
    assert instance.get_run_by_id(first_id).status == dg.DagsterRunStatus.FAILURE
    (second_run,) = [r for r in store.recent_runs(LEAD) if r["status"] == "running"]

    # 3. Marking a dead run canceled (the UI's "terminate") frees the list at once too.
    second = instance.get_run_by_id(second_run["dagster_run_id"])
    instance.report_run_canceled(second, message="killed by the test")
    killed_run("out-3", 14, {}, settle=True)

    # 4. The last run finishes the list.
    before = api.snapshot()
    final = Enrich(env, tmp_path / "out-4", *ARGS).wait()
    assert final.code == 0, final.output
    end = api.snapshot()
    per_run.append(end - before)

    # No node that was ok in the store when a run died was called again, ever.
    for saved, at_kill, _ in kills:
        again = {pair: n for pair, n in (end - at_kill).items() if pair in saved}
        assert again == {}, f"finished nodes called again: {again}"
    # Within a run each node is called at most once (in-flight ones again in the next run).
    for calls in per_run:
        assert max(calls.values(), default=0) <= 1, calls.most_common(3)
    every = {(row, node) for row, _ in lead_rows(ROWS) for node in NODES}
    assert ok_nodes(store) == every
    assert set(end) == every
    # Every call beyond one per node is explained by a call in flight at a kill.
    assert sum(end.values()) - len(every) == sum(len(in_flight) for *_, in_flight in kills)
    finished_before = {row for row, node in kills[-1][0] if node == "second"}
    assert f"done: {ROWS - len(finished_before)} ok, 0 failed" in final.stdout

    # The table is exactly what an uninterrupted run on a fresh store produces.
    assert store.wide_frame(LEAD).to_dict("records") == _uninterrupted(api, workflows, tmp_path)

    # Dagster's side: every killed run was marked over (failed by the next command, or
    # canceled), so none is left STARTED holding the run queue or its pools.
    statuses = [r.status for r in reversed(instance.get_runs())]
    assert statuses == [
        dg.DagsterRunStatus.FAILURE,  # killed; its command gone, reported by the next run
        dg.DagsterRunStatus.CANCELED,  # killed, then marked canceled
        dg.DagsterRunStatus.FAILURE,  # killed; reported by the next run
        dg.DagsterRunStatus.SUCCESS,
    ]
    # The store's run records say what happened to each.
    records = sorted(store.recent_runs(LEAD), key=lambda r: r["id"])
    assert [r["status"] for r in records] == ["abandoned", "abandoned", "abandoned", "succeeded"]
    assert store.run_lock(LEAD, WORKFLOW) is None
