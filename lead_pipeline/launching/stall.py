"""A bound on how long the CLI waits for a run that shows no sign of life.

A run makes progress two ways: rows land in the lead store, and Dagster writes
events (steps starting and ending, engine events). When neither has moved for
``LEAD_PIPELINE_RUN_STALL_TIMEOUT`` seconds (a broker that accepts tasks no
worker takes, a step stuck on a dead connection), the CLI stops waiting and says
what Dagster knows: the run, its status, the steps still in progress. It marks
the run failed, since the process orchestrating it is about to exit, so the run
lock and the run queue do not wait on it either.
"""

from __future__ import annotations

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
    return RunOutcome(False, run_id=run.run_id, error=message, failure=Failure.STALLED)
