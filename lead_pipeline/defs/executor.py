"""The executor runs use: Dagster's own, chosen by ``LEAD_PIPELINE_EXECUTOR``.

* ``multiprocess`` (default): shard steps in separate processes on this machine,
  so CPU-heavy nodes use every core. ``forkserver`` with the package preloaded
  makes each step launch cheaper than a fresh ``spawn``.
* ``celery``: steps go to Celery workers (``pip install 'lead-pipeline[celery]'``);
  broker and result backend from ``LEAD_PIPELINE_CELERY_BROKER`` /
  ``LEAD_PIPELINE_CELERY_BACKEND``. Tasks are acknowledged when they finish, not
  when a worker receives them, and a step whose worker dies is sent again (see
  ``celery_watch.py``); workers start with the same settings through
  ``python -m lead_pipeline.defs.celery_worker``.
* ``k8s``: each step runs as a Kubernetes job (``pip install 'lead-pipeline[k8s]'``),
  usually with ``K8sRunLauncher`` in the instance; image and namespace come from
  the run launcher or ``LEAD_PIPELINE_K8S_IMAGE`` / ``LEAD_PIPELINE_K8S_NAMESPACE``.

Steps on other machines share nothing but the databases: values between steps
go through the lead store (see ``io_manager.py``), so the lead store must then
be PostgreSQL, which ``check_shared_store`` enforces at load time.
"""

from __future__ import annotations

import os
from typing import Any

import dagster as dg

from lead_pipeline.defs import STEP_PRELOAD
from lead_pipeline.settings import get_settings

EXECUTORS = ("multiprocess", "celery", "k8s")


class ExecutorConfigError(ValueError):
    """An executor setting that cannot work (unknown name, SQLite across machines)."""


def default_workers() -> int:
    """Steps at once: ``LEAD_PIPELINE_WORKERS``, else the number of cores."""
    return get_settings().workers or os.cpu_count() or 2


def multiprocess_config(workers: int | None = None) -> dict[str, Any]:
    return {
        "max_concurrent": workers or default_workers(),
        "start_method": {
            "forkserver": {"preload_modules": list(STEP_PRELOAD)},
        },
    }


def executor_name() -> str:
    return get_settings().executor


def check_shared_store(name: str) -> None:
    """Refuse SQLite when steps may run on other machines: they could not see the file."""
    if name != "multiprocess" and get_settings().db_url.startswith("sqlite"):
        raise ExecutorConfigError(
            f"LEAD_PIPELINE_EXECUTOR={name} runs steps on other machines, which cannot open "
            "a SQLite file: set LEAD_PIPELINE_DB_URL to a PostgreSQL URL"
        )


# Dagster's own transport defaults, kept: ``config_source`` replaces the whole dict.
_DAGSTER_TRANSPORT_OPTIONS = {
    "max_retries": 3,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}


def celery_settings() -> dict[str, Any]:
    """The Celery app settings the run and every worker must share (``config_source``).

    * ``task_acks_late`` + ``task_reject_on_worker_lost``: a task is acknowledged
      when its step ends; a worker whose pool process dies puts it back.
    * ``worker_prefetch_multiplier=1``: a worker holds no more tasks than it runs,
      so a lost worker takes no waiting steps down with it.
    * ``task_track_started``: the run learns which worker took a step.
    """
    visibility = get_settings().celery_visibility_timeout_s
    return {
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_track_started": True,
        "broker_transport_options": {
            **_DAGSTER_TRANSPORT_OPTIONS,
            "visibility_timeout": int(visibility),
            # Sweep for expired unacknowledged tasks every 10 s (kombu: 100 s).
            "unacked_restore_throttle": 1,
        },
    }


def celery_config() -> dict[str, Any]:
    """The Celery executor's config: broker, backend and :func:`celery_settings`.

    The workers' ``-y`` file holds the same (see ``celery_worker.py``), except
    the run-side ``lost_after_s`` and ``max_redeliveries``.
    """
    config: dict[str, Any] = {"config_source": celery_settings()}
    if broker := get_settings().celery_broker:
        config["broker"] = broker
    if backend := get_settings().celery_backend:
        config["backend"] = backend
    return config


def k8s_config() -> dict[str, Any]:
    """``k8s_job_executor`` config: steps at once, and the step jobs' image and namespace
    (else the run launcher's, i.e. the run's own pod's)."""
    config: dict[str, Any] = {"max_concurrent": default_workers()}
    if image := get_settings().k8s_image:
        config["job_image"] = image
    if namespace := get_settings().k8s_namespace:
        config["job_namespace"] = namespace
    return config


def build_executor() -> dg.ExecutorDefinition:
    name = executor_name()
    check_shared_store(name)
    # Each executor's package is imported only when it is the one chosen: Celery and
    # dagster-k8s are extras a deployment installs only for that executor.
    if name == "celery":
        from lead_pipeline.defs.celery_watch import watched_celery_executor

        config = {**celery_config(), "lost_after_s": get_settings().celery_lost_after_s}
        return watched_celery_executor.configured(config, name="lead_pipeline_celery")
    if name == "k8s":
        from dagster_k8s import k8s_job_executor

        return k8s_job_executor.configured(k8s_config(), name="lead_pipeline_k8s")
    return dg.multiprocess_executor.configured(multiprocess_config(), name="lead_pipeline_executor")
