"""A partition added in the UI for a list never imported: refused at select, shown and
removed by ``lead-pipeline lists``."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from lead_pipeline.cli import main
from lead_pipeline.defs.assets import build_workflow_asset
from lead_pipeline.defs.checks import CheckSettings, build_workflow_checks
from lead_pipeline.defs.io_manager import LeadStoreIOManager
from lead_pipeline.defs.partitions import LEAD_LISTS, instance, register_lead_list
from lead_pipeline.defs.resources import EnrichOptions, LeadStoreResource
from lead_pipeline.engine.registry import registry
from lead_pipeline.workflows.loader import load_workflows


def test_a_ghost_partition_is_refused_then_listed_and_pruned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    leads = tmp_path / "real.json"
    leads.write_text(json.dumps([{"name": "Acme", "website": "acme.com"}]))
    assert main(["import", str(leads), "--lead", "real"]) == 0
    register_lead_list("typo-list")  # what "Add a partition" in the UI does
    capsys.readouterr()

    wf = next(
        w
        for w in load_workflows(node_types=registry(), set_aside_broken=True)
        if w.name == "b2b_only"
    )
    store = LeadStoreResource()
    outcome = dg.materialize(
        [build_workflow_asset(wf), build_workflow_checks(wf)],
        partition_key="typo-list",
        instance=instance(),
        resources={
            "store": store,
            "enrich": EnrichOptions(),
            "checks": CheckSettings(),
            "io_manager": LeadStoreIOManager(store=store),
        },
        raise_on_error=False,
    )
    assert not outcome.success
    [failure] = [e for e in outcome.all_events if e.is_step_failure]
    description = failure.step_failure_data.user_failure_data.description
    assert "import it first with: lead-pipeline import PATH --lead typo-list" in description
    assert "lead-pipeline lists --prune-partitions" in description

    assert main(["lists"]) == 0
    out = capsys.readouterr().out
    assert "partition(s) with no lead list: typo-list" in " ".join(out.split())
    assert "real" in out
    assert main(["lists", "--prune-partitions"]) == 0
    assert "removed 1 partition(s) with no lead list: typo-list" in capsys.readouterr().out
    assert instance().get_dynamic_partitions(LEAD_LISTS) == ["real"]
    assert main(["lists"]) == 0
    assert "no lead list" not in capsys.readouterr().out
