"""Runs whose launching command died: reported failed instead of left STARTED.

A run started by ``lead-pipeline enrich`` executes inside the command's process tree; when the
command is killed, nothing is left to report the run's end, and Dagster keeps it ``STARTED``:
counted against ``max_concurrent_runs``, holding its pools. Each such run carries its
launcher (host, pid, start time) in a tag, so the next command on the same host can tell
that the process is gone and say so to Dagster with ``report_run_failed``, which ends the
run, frees what it held and lets its run lock go at once.
"""

from __future__ import annotations

import dagster as dg

from lead_pipeline.engine.runlock import Launcher

LAUNCHER_TAG = "lead_pipeline/launcher"
_IN_PROGRESS = [
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def fail_runs_of_dead_launchers(instance: dg.DagsterInstance) -> list[str]:
    """Report failed every in-progress run whose launching process on this host is gone;
    returns their run ids. Runs launched elsewhere, or by the UI, are never touched."""
    failed: list[str] = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=_IN_PROGRESS)):
        launcher = Launcher.parse(run.tags.get(LAUNCHER_TAG))
        if launcher is None or not launcher.is_gone():
            continue
        instance.report_run_failed(
            run,
            message=f"the command that launched this run (pid {launcher.pid} on "
            f"{launcher.host}) stopped without finishing it; marked failed by a later run",
        )
        failed.append(run.run_id)
    return failed
