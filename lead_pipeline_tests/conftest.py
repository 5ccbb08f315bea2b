"""Fixtures shared by the whole suite.

* Every test runs with its own data folder, Dagster home and default SQLite
  store, so no test reads or writes the developer's ``data/``.
* ``db_url`` and ``store`` run a test on SQLite and on PostgreSQL. PostgreSQL
  needs ``LEAD_PIPELINE_TEST_PG_URL`` (an admin URL; each test gets a fresh
  database created from it and dropped after). Without it the PostgreSQL
  variants are skipped on a laptop and fail in CI, so CI can never pass while
  silently testing one backend.
* ``shared/`` (the sample YC data) sits beside the repository root, here and in CI.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from lead_pipeline.settings import reset_settings
from lead_pipeline.store import LeadStore

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared"
PG_URL_ENV = "LEAD_PIPELINE_TEST_PG_URL"

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def missing(reason: str) -> None:
    """Skip on a developer machine, fail in CI: CI must run everything."""
    if in_ci():
        pytest.fail(f"{reason} (CI must run every test)")
    pytest.skip(reason)


def _expected_minutes(item: pytest.Item) -> float:
    """``slow(minutes=N)``: roughly how long a test takes on an idle 2-core machine."""
    marker = item.get_closest_marker("slow")
    return -1.0 if marker is None else float(marker.kwargs.get("minutes", 0))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest end-to-end (``slow``) tests first, the rest in their usual order after.

    ``make test`` spreads tests over worker processes (pytest-xdist); started last,
    a three-minute test would leave the other workers idle at the end of the suite.
    """
    items.sort(key=_expected_minutes, reverse=True)


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "lp-data"
    monkeypatch.setenv("LEAD_PIPELINE_DATA_DIR", str(data))
    # Set, not derived: defs.partitions.instance() writes DAGSTER_HOME into
    # os.environ, and monkeypatch restores it only for variables it set itself.
    monkeypatch.setenv("DAGSTER_HOME", str(data / "dagster_home"))
    for name in ("LEAD_PIPELINE_DB_URL", "LEAD_PIPELINE_WORKFLOWS", "LEAD_PIPELINE_LEADS_DIR"):
        monkeypatch.delenv(name, raising=False)
    reset_settings()  # settings cached by an earlier test are not this test's
    return data


@contextmanager
def fresh_pg_database(admin_url: str) -> Iterator[str]:
    """A brand-new database on the server at ``admin_url``, dropped afterwards."""
    name = f"test_{secrets.token_hex(6)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database, once per backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    admin_url = os.environ.get(PG_URL_ENV, "").strip()
    if not admin_url:
        missing(f"{PG_URL_ENV} is not set; PostgreSQL tests need a server (see .ci/run)")
    with fresh_pg_database(admin_url) as url:
        yield url


@pytest.fixture
def store(db_url: str) -> Iterator[LeadStore]:
    """A migrated, empty lead store, once per backend."""
    lead_store = LeadStore(db_url)
    try:
        yield lead_store
    finally:
        lead_store.dispose()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED_DIR.is_dir():
        missing(f"{SHARED_DIR} is missing: shared/ must sit beside the repository")
    return SHARED_DIR


@pytest.fixture(scope="session")
def yc_f25_path(shared_dir: Path) -> Path:
    """The 148 companies of YC Fall 2025, with every field the directory has."""
    path = shared_dir / "data" / "yc" / "fall-2025.json"
    if not path.is_file():
        missing(f"{path} is missing")
    return path
