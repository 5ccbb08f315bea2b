"""The Dagster face of the pipeline: assets, IO manager, resources, automation."""

# What the multiprocess executor's forkserver imports before forking any step: Dagster's
# executor module (which Dagster puts first itself) and the built code location. Here, not
# in ``executor.py``, so that the launcher can start that server without importing Dagster.
STEP_PRELOAD = ("dagster._core.executor.multiprocess", "lead_pipeline.defs.preload")


class StepLost(RuntimeError):
    """A step's Celery worker stopped answering and the step could not be finished.

    Raised by ``celery_watch``; here so that the launcher can tell this failure from
    others without importing Celery, which only the ``celery`` extra installs.
    """
