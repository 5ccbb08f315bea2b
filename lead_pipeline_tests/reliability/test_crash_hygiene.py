"""When ``lead-pipeline enrich`` dies, nothing of its run is left running or holding the list.

The CLI alone is killed (SIGKILL, or SIGTERM as a supervisor sends it), not its process group:
its step processes must notice and end themselves, and the user's immediate re-run must
start at once instead of being refused until the dead run's heartbeat goes stale.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import dagster as dg
import pytest

from lead_pipeline.defs.partitions import instance as dagster_instance
from lead_pipeline.engine.runlock import Launcher
from lead_pipeline.launching.deadruns import LAUNCHER_TAG
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
    session_pids,
    trusted,
    wait_for,
    write_workflow,
)

pytestmark = pytest.mark.slow(minutes=1)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_step_processes_die_with_the_cli_and_the_rerun_starts_at_once(
    tmp_path: Path, sig: signal.Signals
) -> None:
    rows = lead_rows(12)
    with RowApi() as api:
        env = cli_env(
            write_workflow(tmp_path / "wf", WORKFLOW_YAML.format(base=api.root_url)),
            **trusted(api),
        )
        store = LeadStore()
        store.import_rows(LEAD, rows)
        api.hold_after(3)  # calls 4 and later hang: the run is mid-way when the CLI dies
        first = Enrich(env, tmp_path / "first", *enrich_args())
        first.reaches(api.tripped.is_set, "the held call")
        cli = first.proc.pid
        assert [p for p in session_pids(cli) if p != cli], "no step process to orphan"
        lock = store.run_lock(LEAD, WORKFLOW)
        assert lock is not None
        launcher = Launcher.parse(lock.holder)
        assert launcher is not None and launcher.pid == cli  # the lock names the command

        os.kill(cli, sig)  # the command only, not its process group
        first.proc.wait(timeout=300)  # a bound for a hung command, not an expected time
        wait_for(lambda: not session_pids(cli), "the step processes to die with the CLI", 60)
        assert launcher.is_gone()
        api.release()  # the held server threads answer into the void

        # The dead run's lock is still there, fresh: the heartbeat rule alone would refuse
        # the re-run for 120 s. The launcher being gone frees it at once.
        left = store.run_lock(LEAD, WORKFLOW)
        assert left is not None and left.owner == lock.owner
        done = Enrich(env, tmp_path / "second", *enrich_args()).wait()
        assert done.code == 0, done.output
    assert ok_nodes(store) == {(row, node) for row, _ in rows for node in NODES}
    assert store.run_lock(LEAD, WORKFLOW) is None

    # Dagster is told the killed run is over (it would stay STARTED, holding its pools).
    killed = dagster_instance().get_run_by_id(lock.owner)
    assert killed is not None and killed.tags[LAUNCHER_TAG] == launcher.text()
    assert killed.status == dg.DagsterRunStatus.FAILURE
    records = {r["dagster_run_id"]: r for r in store.recent_runs(LEAD)}
    assert records[lock.owner]["status"] == "abandoned"
