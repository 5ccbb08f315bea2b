"""The definitions load with each of Dagster's executors the docs describe."""

from __future__ import annotations

import pytest

from lead_pipeline.defs.definitions import CHAIN_JOB, build_definitions
from lead_pipeline.defs.executor import ExecutorConfigError
from lead_pipeline.settings import SettingsError

PG = "postgresql+psycopg://lead:pw@db.internal:5432/leads"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("multiprocess", "lead_pipeline_executor"),
        ("celery", "lead_pipeline_celery"),
        ("k8s", "lead_pipeline_k8s"),
    ],
)
def test_each_executor_loads(monkeypatch, name: str, expected: str) -> None:
    monkeypatch.setenv("LEAD_PIPELINE_EXECUTOR", name)
    monkeypatch.setenv("LEAD_PIPELINE_DB_URL", PG)  # steps elsewhere need a shared store
    monkeypatch.setenv("LEAD_PIPELINE_K8S_IMAGE", "registry.example/lead-pipeline:1")
    monkeypatch.setenv("LEAD_PIPELINE_CELERY_BROKER", "pyamqp://guest@rabbit//")
    job = build_definitions().resolve_job_def(CHAIN_JOB)
    assert job.executor_def.name == expected


@pytest.mark.parametrize("name", ["celery", "k8s"])
def test_remote_executors_refuse_a_sqlite_store(monkeypatch, name: str) -> None:
    monkeypatch.setenv("LEAD_PIPELINE_EXECUTOR", name)
    with pytest.raises(ExecutorConfigError, match="LEAD_PIPELINE_DB_URL"):
        build_definitions()


def test_unknown_executor_is_named(monkeypatch) -> None:
    monkeypatch.setenv("LEAD_PIPELINE_EXECUTOR", "dask")
    with pytest.raises(SettingsError, match="LEAD_PIPELINE_EXECUTOR: 'dask' is not one of"):
        build_definitions()
