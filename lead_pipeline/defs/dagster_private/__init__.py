"""Every name we take from Dagster that Dagster does not publish, in one package.

Dagster's public API is what ``dagster`` (``dg``) and each library's ``__all__``
export; anything else (``dagster._core``, ``dagster_celery.executor``) may change in
any release without notice. Each name here says why no public one does the job. All
of them were checked against dagster 1.13.27 and dagster-celery 0.29.27, the versions
``constraints.txt`` pins: on an upgrade, read this package first and run
``lead_pipeline_tests/scaleout/`` (the Celery executor). ``lead_pipeline_tests/defs/
test_dagster_private.py`` fails when another module of ours imports a private name.

Dagster's own private names are here; ``dagster_celery``'s are in ``.celery``, which
``defs/celery_watch.py`` alone imports: they need the ``celery`` extra, and importing
them took 1.27 s (load average ~20), which the step server's preload must not pay.

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
cost every process that loads the definitions the gRPC modules.

``dagster._core.instance.factory`` is named, not imported, by ``defs/preload.py``: the
step server imports the modules a step's instance will (see ``InstanceRef`` below).
"""

from __future__ import annotations

# The engine event a lost Celery worker is reported as in the run's event log
# (``DagsterInstance.report_engine_event`` wants its data as this type; not exported).
from dagster._core.events import EngineEventData

# The executor's ``retries`` config read into the value ``CeleryExecutor`` takes;
# ``dagster_celery.celery_executor`` does the same with this private class.
from dagster._core.execution.retries import RetryMode

# What ``dagster.yaml`` configures, read without opening the instance: the step server
# preloads the storage and coordinator modules it names (``defs/preload.py``), since a
# connection must not cross a fork. ``DagsterInstance`` offers no public way to read it.
from dagster._core.instance.ref import InstanceRef

# The type of the serialized errors a finished run hands back
# (``JobExecutionResult``'s step failures); used for type checking only.
from dagster._utils.error import SerializableErrorInfo

__all__ = [
    "EngineEventData",
    "InstanceRef",
    "RetryMode",
    "SerializableErrorInfo",
]
