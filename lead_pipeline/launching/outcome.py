"""How a launched Dagster run ended, as a typed value the command reports from.

Dagster hands back a run's failures as serialized errors (class names and
texts, from other processes); :func:`outcome_of` reads them once, here, into a
:class:`RunOutcome` whose :class:`Failure` says which kind of failure it was:
``enrich`` exits 1 when rows failed and 3 when a workflow could not run.

Dagster is imported only inside the functions: this module is imported before
``enrich`` knows whether it will launch anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from lead_pipeline.store import StoreUnwritable

if TYPE_CHECKING:
    import dagster as dg

    from lead_pipeline.defs.dagster_private import SerializableErrorInfo


# What a failed blocking asset check raises. Its class is not in Dagster's public names
# (checked against dagster 1.13.27), so it is known by the name its errors carry, not
# imported (see defs/dagster_private/ for the private names that are).
ASSET_CHECK_FAILED = "DagsterAssetCheckFailedError"


class Failure(Enum):
    ROWS = "rows failed"  # the failure-rate limit of the summarize step, or a blocking check
    STORE = "store unwritable"  # the lead store refused a write
    LOST_STEP = "step lost"  # the executor lost a step with its worker
    STALLED = "stalled"  # no progress for the stall timeout: the command stopped waiting
    OTHER = "could not run"


@dataclass(frozen=True)
class RunOutcome:
    success: bool
    run_id: str | None = None
    error: str | None = None  # the first failure's own description, not a stack trace
    failure: Failure | None = None

    @property
    def rows_failed(self) -> bool:
        """The run stopped because rows failed, not because a workflow could not run."""
        return self.failure is Failure.ROWS


def _in_chain(error: SerializableErrorInfo | None, cls_name: str) -> SerializableErrorInfo | None:
    """The error of class ``cls_name`` in ``error``'s chain of causes."""
    while error is not None:
        if error.cls_name == cls_name:
            return error
        error = error.cause
    return None


def _own_text(error: SerializableErrorInfo) -> str:
    """The error's message without its ``module.Class:`` prefix."""
    return error.message.strip().split(f"{error.cls_name}: ", 1)[-1]


def _failed_checks(error: SerializableErrorInfo) -> str:
    """A failed blocking check's error (a count, then one ``asset: check`` a line) as one
    plain line naming the checks, not Dagster's exception text."""
    lines = [line.strip() for line in _own_text(error).splitlines()[1:] if line.strip()]
    named = "; ".join(lines) or "a blocking check"
    return f"blocking check failed ({named}): the workflows that depend on it did not run"


def outcome_of(result: dg.JobExecutionResult) -> RunOutcome:
    """The run's outcome: on failure, the first failed step's description and the kind of
    failure (:attr:`Failure.ROWS` only when every failed step failed because rows failed)."""
    # Imported once a run ended: defs loads Dagster (2.4 s of CPU), which the launcher's
    # module, imported by `enrich --plan`, must not.
    from lead_pipeline.defs import StepLost
    from lead_pipeline.defs.assets import ROWS_FAILED_TAG

    if result.success:
        return RunOutcome(success=True, run_id=result.run_id)
    message: str | None = None
    kind: Failure | None = None
    rows_only = True
    for event in result.all_events:
        if not event.is_step_failure or event.step_failure_data is None:
            continue
        error = event.step_failure_data.error
        user = event.step_failure_data.user_failure_data
        store = _in_chain(error, StoreUnwritable.__name__)
        if message is None and store is not None:
            # the store cannot be written: say which, not "op failed"
            message, kind = f"{event.step_key}: {_own_text(store)}", Failure.STORE
            rows_only = False
            continue
        tagged = user is not None and ROWS_FAILED_TAG in (user.metadata or {})
        check = error is not None and error.cls_name == ASSET_CHECK_FAILED
        rows_only = rows_only and (tagged or check)
        if message is None and user is not None and user.description:
            message = f"{event.step_key}: {user.description.splitlines()[0]}"
        elif message is None and check and error is not None:
            message = _failed_checks(error)
        elif message is None and error is not None:
            message = f"{event.step_key}: {error.message.strip()}"
    if message is not None:
        if kind is None:
            kind = Failure.ROWS if rows_only else Failure.OTHER
        return RunOutcome(success=False, run_id=result.run_id, error=message, failure=kind)
    # An executor's own failure (a step lost with its Celery worker) fails the run, no step.
    # Dagster's Celery loop folds the workers' errors into the text of one
    # DagsterSubprocessError (dagster_celery/core_execution_loop.py, 0.29.27): the class
    # is named only in that text, so it is read from there.
    lost_step = re.compile(rf"\b{StepLost.__name__}: (.+)")
    for event in result.all_events:
        if event.is_run_failure and event.job_failure_data is not None:
            error = event.job_failure_data.error
            if error is not None and (lost := lost_step.search(error.to_string())):
                return RunOutcome(False, result.run_id, lost.group(1), Failure.LOST_STEP)
    text = "the run failed; see the Dagster UI for its event log"
    return RunOutcome(success=False, run_id=result.run_id, error=text, failure=Failure.OTHER)
