"""A PostgreSQL + Redis + Celery cluster per test (see ``cluster.py``).

Needs ``LEAD_PIPELINE_TEST_PG_URL`` and ``redis-server`` on ``PATH`` (``.ci/run``
installs Debian's when missing): skipped on a laptop without them, failed in CI.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from lead_pipeline_tests.conftest import PG_URL_ENV, fresh_pg_database, missing
from lead_pipeline_tests.scaleout.cluster import REDIS_SERVER, Cluster, redis_server


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    admin = os.environ.get(PG_URL_ENV, "").strip()
    if not admin:
        missing(f"{PG_URL_ENV} is not set; the Celery cluster needs PostgreSQL (see .ci/run)")
    if shutil.which(REDIS_SERVER) is None:
        missing("redis-server is not installed (apt-get install redis-server; .ci/run does it)")
    with (
        fresh_pg_database(admin) as leads_url,
        fresh_pg_database(admin) as dagster_url,
        redis_server(tmp_path / "redis") as redis,
    ):
        running = Cluster.on(tmp_path, leads_url, dagster_url, redis)
        try:
            yield running
        finally:
            running.stop()
