"""The executor every run uses: Dagster's multiprocess executor, tuned for shards.

Shard steps run in separate processes so CPU-heavy nodes use every core.
``forkserver`` with the package preloaded makes each step launch cheaper than a
fresh ``spawn`` (measured here: the per-step launch cost dominates small runs).
"""

from __future__ import annotations

import os

import dagster as dg

from lead_pipeline import settings


def default_workers() -> int:
    """Steps at once: ``LEAD_PIPELINE_WORKERS``, else the number of cores."""
    return int(settings.env("LEAD_PIPELINE_WORKERS") or os.cpu_count() or 2)


def multiprocess_config(workers: int | None = None) -> dict:
    return {
        "max_concurrent": workers or default_workers(),
        "start_method": {
            "forkserver": {"preload_modules": ["lead_pipeline.defs.definitions"]},
        },
    }


executor = dg.multiprocess_executor.configured(multiprocess_config(), name="lead_pipeline_executor")
