"""``dagster_celery``'s unpublished names (checked against dagster-celery 0.29.27).

Part of :mod:`lead_pipeline.defs.dagster_private` (read its docstring), apart because
these need the ``celery`` extra and cost 1.27 s to import: only ``defs/celery_watch.py``,
which the Celery executor alone loads, imports this module.
"""

from __future__ import annotations

# Dagster's Celery loop: it submits each step with ``step_execution_fn`` and waits on
# what that returns, which is how ``celery_watch`` puts a watched step in its place.
# ``dagster_celery`` publishes only the ``celery_executor`` definition, not its parts.
from dagster_celery.core_execution_loop import core_celery_execution_loop

# ``CELERY_CONFIG``: the Celery executor's config schema, extended with the watch's two
# settings. ``CeleryExecutor``: the executor subclassed to run that loop with watched
# steps. ``_submit_task``: how one step becomes a Celery task (the watch submits a step
# again when its worker is lost); copying it would copy its task routing and priorities.
from dagster_celery.executor import CELERY_CONFIG, CeleryExecutor, _submit_task

__all__ = ["CELERY_CONFIG", "CeleryExecutor", "core_celery_execution_loop", "submit_task"]

submit_task = _submit_task
