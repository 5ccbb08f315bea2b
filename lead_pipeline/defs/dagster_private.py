"""Every name we take from Dagster that Dagster does not publish, in one place.

Dagster's public API is what ``dagster`` (``dg``) and each library's ``__all__``
export; anything else (``dagster._core``, ``dagster_celery.executor``) may change in
any release without notice. Each name here says why no public one does the job. All
of them were checked against dagster 1.13.27 and dagster-celery 0.29.27, the versions
``constraints.txt`` pins: on an upgrade, read this module first and run
``lead_pipeline_tests/scaleout/`` (the Celery executor). ``lead_pipeline_tests/defs/
test_dagster_private.py`` fails when another module of ours imports a private name.

Imported by ``defs/celery_watch.py`` only, which the ``celery`` executor alone loads:
importing this module needs the ``celery`` extra. Elsewhere the names are used for
type checking only.

One private name is not imported, only named: ``defs.STEP_PRELOAD`` lists the module
``dagster._core.executor.multiprocess`` for the step server's forkserver, as Dagster's
own multiprocess executor does first thing (``_core/executor/multiprocess.py``); the
launcher starts that server before it imports Dagster, so it cannot import from here.

Three more are only named: ``defs/redaction.py`` wraps the function that evaluates a
sensor's or schedule's tick (``get_external_sensor_execution`` and
``get_external_schedule_execution``) in the modules that hold it, ``dagster._grpc.impl``,
``dagster._grpc.server`` and ``dagster._core.remote_representation.code_location``,
when they are already loaded (a code server, an in-process code location), so that no
key in a tick's skip reason or error reaches the daemon's tick records; no public hook
sees a tick's result before it leaves the code's process. Importing them here would
cost every process that loads the definitions the gRPC modules, and need the ``celery``
extra.
"""

from __future__ import annotations

# The engine event a lost Celery worker is reported as in the run's event log
# (``DagsterInstance.report_engine_event`` wants its data as this type; not exported).
from dagster._core.events import EngineEventData

# The executor's ``retries`` config read into the value ``CeleryExecutor`` takes;
# ``dagster_celery.celery_executor`` does the same with this private class.
from dagster._core.execution.retries import RetryMode

# The type of the serialized errors a finished run hands back
# (``JobExecutionResult``'s step failures); used for type checking only.
from dagster._utils.error import SerializableErrorInfo

# Dagster's Celery loop: it submits each step with ``step_execution_fn`` and waits on
# what that returns, which is how ``celery_watch`` puts a watched step in its place.
# ``dagster_celery`` publishes only the ``celery_executor`` definition, not its parts.
from dagster_celery.core_execution_loop import core_celery_execution_loop

# ``CELERY_CONFIG``: the Celery executor's config schema, extended with the watch's two
# settings. ``CeleryExecutor``: the executor subclassed to run that loop with watched
# steps. ``_submit_task``: how one step becomes a Celery task (the watch submits a step
# again when its worker is lost); copying it would copy its task routing and priorities.
from dagster_celery.executor import CELERY_CONFIG, CeleryExecutor, _submit_task

__all__ = [
    "CELERY_CONFIG",
    "CeleryExecutor",
    "EngineEventData",
    "RetryMode",
    "SerializableErrorInfo",
    "core_celery_execution_loop",
    "submit_task",
]

submit_task = _submit_task
