"""The launchpad's ``plan_only``: a real Dagster run that logs the plan and runs no row."""

from __future__ import annotations

import pytest

from lead_pipeline.defs.partitions import instance
from lead_pipeline.launching.launch import enrich
from lead_pipeline.store import LeadStore

pytestmark = pytest.mark.slow


def test_plan_only_logs_the_plan_and_writes_no_result() -> None:
    store = LeadStore()
    store.import_rows(
        "demo", [(f"c{i}", {"name": f"Co {i}", "website": f"co{i}.com"}) for i in range(3)]
    )
    result = enrich("demo", "b2b_only", {"plan_only": True}, store=store)
    assert result.success, result.error
    assert store.results("demo", ["b2b_only"]) == {}
    logs = [e.user_message for e in instance().all_logs(result.dagster_run_id) if e.user_message]
    assert any("b2b_only: 3 of 3 rows to process (3 missing)" in m for m in logs)
    materialization = instance().get_latest_materialization_event(
        __import__("dagster").AssetKey("b2b_only")
    )
    assert materialization is not None
    assert materialization.asset_materialization.metadata["plan_only"].value is True
