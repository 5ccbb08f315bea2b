"""The chain on PostgreSQL end to end: the lead store and Dagster's instance storage."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from lead_pipeline.store import LeadStore
from lead_pipeline_tests.conftest import PG_URL_ENV, REPO_ROOT, fresh_pg_database, missing

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def test_chain_runs_with_store_and_instance_on_postgresql(tmp_path: Path, monkeypatch) -> None:
    admin = os.environ.get(PG_URL_ENV, "").strip()
    if not admin:
        missing(f"{PG_URL_ENV} is not set")
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "deploy" / "dagster-postgres.yaml", home / "dagster.yaml")
    with fresh_pg_database(admin) as leads_url, fresh_pg_database(admin) as dagster_url:
        env = {
            **os.environ,
            "DAGSTER_HOME": str(home),
            "DAGSTER_PG_URL": dagster_url.replace(
                "postgresql+psycopg://", "postgresql+psycopg2://"
            ),
            "LEAD_PIPELINE_DB_URL": leads_url,
        }
        for args in (
            ["import", str(REPO_ROOT / "data" / "leads" / "yc-f25.json"), "--lead", "yc-f25"],
            ["enrich", "--lead", "yc-f25", "--workflow", "b2b_only"],
        ):
            done = subprocess.run(
                [sys.executable, "-m", "lead_pipeline.cli", *args],
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert done.returncode == 0, done.stdout + done.stderr

        store = LeadStore(leads_url)
        try:
            # Rows with neither a one-liner nor a description are skipped (no evidence).
            rows = json.loads((REPO_ROOT / "data" / "leads" / "yc-f25.json").read_text())
            without_text = sum(
                not (r.get("one_liner") or "").strip()
                and not (r.get("long_description") or "").strip()
                for r in rows
            )
            assert without_text > 0
            assert store.wide_frame("yc-f25")["is_b2b"].notna().sum() == 148 - without_text
        finally:
            store.dispose()
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        with dg.DagsterInstance.get() as instance:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            (run,) = instance.get_runs()
            assert run.is_success and run.tags["dagster/partition"] == "yc-f25"
            assert instance.get_dynamic_partitions("lead_lists") == ["yc-f25"]
            event = instance.get_latest_materialization_event(dg.AssetKey("b2b_only"))
            assert event is not None
            # The companies with nothing to go on are not answered: no answer, not ok.
            metadata = event.asset_materialization.metadata
            assert metadata["ok"].value == 148 - without_text
            assert metadata["no_answer"].value == without_text
