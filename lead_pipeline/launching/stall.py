"""A bound on how long the CLI waits for a run that shows no sign of life.

A run makes progress two ways: rows land in the lead store, and Dagster writes
events (steps starting and ending, engine events). When neither has moved for
``LEAD_PIPELINE_RUN_STALL_TIMEOUT`` seconds (a broker that accepts tasks no
worker takes, a step stuck on a dead connection), the CLI stops waiting and says
what Dagster knows: the run, its status, the steps still in progress. It marks
the run failed, since the process orchestrating it is about to exit, so the run
lock and the run queue do not wait on it either, and ends the step processes this
command started: a step stuck in a plugin (a sync call that never returns blocks its
event loop, heartbeats and all) would otherwise keep the command from exiting, since
Python joins its child processes at exit.
"""

from __future__ import annotations

import multiprocessing
import time
from typing import Any

import dagster as dg

from lead_pipeline.launching.deadruns import LAUNCHER_TAG
from lead_pipeline.launching.outcome import Failure, RunOutcome


class StallWatch:
    """``stalled(progress)`` is True once neither ``progress`` nor Dagster's events moved
    for ``limit_s`` seconds."""

    def __init__(self, instance: dg.DagsterInstance, limit_s: float) -> None:
        self.instance = instance
        self.limit_s = limit_s
        self._last: tuple[Any, int | None] | None = None
        self._since = time.monotonic()

    def stalled(self, progress: Any) -> bool:
        mark = (progress, self.instance.event_log_storage.get_maximum_record_id())
        now = time.monotonic()
        if mark != self._last:
            self._last, self._since = mark, now
            return False
        return now - self._since >= self.limit_s


def give_up(instance: dg.DagsterInstance, launcher: str, limit_s: float) -> RunOutcome:
    """Mark the stalled run of ``launcher`` (this process) failed and say what Dagster knows."""
    runs = instance.get_runs(filters=dg.RunsFilter(tags={LAUNCHER_TAG: launcher}), limit=1)
    if not runs:
        text = f"no progress for {limit_s:.0f}s and Dagster has no run for it yet"
        return RunOutcome(False, error=text, failure=Failure.STALLED)
    run = runs[0]
    waiting = [s.step_key for s in instance.get_run_step_stats(run.run_id) if s.end_time is None]
    message = (
        f"no progress for {limit_s:.0f}s (LEAD_PIPELINE_RUN_STALL_TIMEOUT): Dagster run "
        f"{run.run_id} was {run.status.value}"
        + (f" with steps in progress: {', '.join(waiting)}" if waiting else "")
        + "; marked it failed. Rows already written are kept; run the workflow again."
    )
    if not run.is_finished:
        instance.report_run_failed(run, message=message)
    end_step_processes()
    return RunOutcome(False, run_id=run.run_id, error=message, failure=Failure.STALLED)


# How long a step process gets to end on SIGTERM before it is killed.
STEP_TERM_GRACE_S = 5.0
# How long the run's own thread then gets to record the ended steps before the CLI exits.
STALLED_RUN_WIND_DOWN_S = 30.0


def end_step_processes(grace_s: float = STEP_TERM_GRACE_S) -> None:
    """SIGTERM this process's step processes, then SIGKILL those still alive after ``grace_s``.

    They are the children ``multiprocessing`` knows (the multiprocess executor's steps, forked
    from the step server): Celery and Kubernetes steps run elsewhere and are not touched.
    """
    children = multiprocessing.active_children()
    for child in children:
        child.terminate()
    deadline = time.monotonic() + grace_s
    for child in children:
        child.join(max(0.0, deadline - time.monotonic()))
    for child in children:
        if child.is_alive():
            child.kill()
            child.join(grace_s)
