"""Asset checks: coverage, failure rate and output validity, on a real store and through Dagster."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from lead_pipeline.defs.assets import build_workflow_asset
from lead_pipeline.defs.checks import (
    COVERAGE,
    FAILURE_RATE,
    VALIDITY,
    CheckSettings,
    build_workflow_checks,
    evaluate,
    results,
)
from lead_pipeline.defs.definitions import build_definitions
from lead_pipeline.defs.io_manager import LeadStoreIOManager
from lead_pipeline.defs.partitions import instance, register_lead_list
from lead_pipeline.defs.resources import EnrichOptions, LeadStoreResource
from lead_pipeline.engine.compile import CompiledWorkflow
from lead_pipeline.engine.registry import registry
from lead_pipeline.leads import import_file
from lead_pipeline.store import FAILED, OK, SKIPPED, LeadStore, NodeResult
from lead_pipeline.workflows.loader import load_workflows


def workflow(name: str) -> CompiledWorkflow:
    return next(
        w for w in load_workflows(node_types=registry(), set_aside_broken=True) if w.name == name
    )


def result(
    wf: CompiledWorkflow,
    row_id: str,
    node_index: int,
    status: str = OK,
    outputs: dict[str, Any] | None = None,
    config_hash: str | None = None,
    lead_list: str = "leads",
) -> NodeResult:
    node = wf.nodes[node_index]
    return NodeResult(
        lead_list=lead_list,
        row_id=row_id,
        workflow=wf.name,
        node=node.id,
        node_index=node.index,
        status=status,
        config_hash=config_hash or node.config_hash,
        outputs=outputs if status == OK else None,
        error="boom" if status == FAILED else None,
    )


def test_b2b_only_coverage_failures_staleness_and_confidence_range(store: LeadStore) -> None:
    wf = workflow("b2b_only")
    store.import_rows("leads", [(f"r{i}", {"name": f"Company {i}"}) for i in range(6)])
    good = {"is_b2b": True, "b2b_confidence": 0.9, "b2b_reason": "sells to teams"}
    llm_skipped = {"status": SKIPPED, "outputs": None}
    store.record_results(
        [
            result(wf, "r0", 0, outputs=good),
            result(wf, "r0", 1, **llm_skipped),
            result(wf, "r1", 0, outputs={**good, "b2b_confidence": 0.2}),  # out of range
            result(wf, "r1", 1, **llm_skipped),
            result(wf, "r2", 0, outputs={**good, "is_b2b": "yes"}),  # wrong type
            result(wf, "r2", 1, **llm_skipped),
            result(wf, "r3", 0, status=FAILED),
            result(wf, "r4", 0, outputs=good, config_hash="an-older-version"),
            result(wf, "r4", 1, **llm_skipped),
            # r5: no result at all
        ]
    )
    found = evaluate(store, wf, "leads")
    assert (found.rows, found.ok, found.failed, found.pending, found.stale) == (6, 4, 1, 1, 1)
    assert found.failure_rate == pytest.approx(1 / 5)
    assert found.values_checked == 12
    assert sorted(found.invalid) == [
        "row 'r1', node 'offline_model', b2b_confidence: 0.2 is below the minimum 0.5",
        "row 'r2', node 'offline_model', is_b2b: expected boolean, got str",
    ]


def test_founder_urls_must_be_canonical_profiles(store: LeadStore) -> None:
    wf = workflow("founder_linkedin")
    store.import_rows("leads", [("good", {"name": "A"}), ("bad", {"name": "B"})])
    person = {"name": "Ada", "title": "CEO", "source_url": "https://example.com"}
    store.record_results(
        [
            result(wf, "good", 0, outputs={"founder_search_results": []}),
            result(
                wf,
                "good",
                1,
                outputs={
                    "founders": [{**person, "linkedin_url": "https://www.linkedin.com/in/ada"}],
                    "founder_count": 1,
                },
            ),
            result(wf, "bad", 0, outputs={"founder_search_results": []}),
            result(
                wf,
                "bad",
                1,
                outputs={
                    "founders": [
                        {**person, "linkedin_url": "https://uk.linkedin.com/in/ada/?trk=x"}
                    ],
                    "founder_count": 1,
                },
            ),
        ]
    )
    found = evaluate(store, wf, "leads")
    assert found.pending == 0 and found.failed == 0
    assert found.invalid == [
        "row 'bad', node 'extract', founders[0].linkedin_url: "
        "'https://uk.linkedin.com/in/ada/?trk=x' does not match the pattern "
        "^https://www\\.linkedin\\.com/in/(?:[a-z0-9_-]|%[0-9A-F]{2}){3,}$"
    ]


# ---- through Dagster -------------------------------------------------------

SIZES_YAML = """\
name: sizes
nodes:
  - id: copy
    type: expression
    values: {size_n: "size"}
    outputs: {size_n: integer}
"""


def materialize(
    wf: CompiledWorkflow, lead_list: str, *, success: bool = True, **settings: Any
) -> dict[str, dg.AssetCheckEvaluation]:
    """Materialize one workflow and its checks in process; the check results by name.

    ``success=False``: the blocking failure_rate check is expected to fail the run.
    """
    store = LeadStoreResource()
    outcome = dg.materialize(
        [build_workflow_asset(wf), build_workflow_checks(wf)],
        partition_key=lead_list,
        instance=instance(),
        resources={
            "store": store,
            "enrich": EnrichOptions(),
            "checks": CheckSettings(**settings),
            "io_manager": LeadStoreIOManager(store=store),
        },
        raise_on_error=False,
    )
    assert outcome.success == success
    return {e.check_name: e for e in outcome.get_asset_check_evaluations()}


def test_checks_run_with_the_materialization_and_judge_its_lead_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "sizes.yaml").write_text(SIZES_YAML)
    monkeypatch.setenv("LEAD_PIPELINE_WORKFLOWS", str(folder))
    wf = workflow("sizes")
    rows = [{"name": f"Co {i}", "size": i + 1} for i in range(4)] + [
        {"name": "Co 4", "size": "five"}  # the node refuses a string for an integer: a failed row
    ]
    path = tmp_path / "sizes.json"
    path.write_text(json.dumps(rows))
    store = LeadStore()
    import_file(store, path, "sizes-list")
    register_lead_list("sizes-list")

    checks = materialize(wf, "sizes-list", success=False)  # the blocking check failed
    assert not checks[COVERAGE].passed  # a failed row is not covered
    assert checks[COVERAGE].description.startswith("1 row(s) failed")
    assert not checks[FAILURE_RATE].passed  # 1 of 5 failed: 20% > 10%
    assert checks[FAILURE_RATE].severity == dg.AssetCheckSeverity.ERROR
    assert checks[FAILURE_RATE].blocking
    causes = checks[FAILURE_RATE].metadata["error_causes"].value
    assert [r.data["rows"] for r in causes.records] == [1]
    assert "size_n: expected integer, got str" in causes.records[0].data["cause"]
    assert checks[FAILURE_RATE].metadata["failure_rate"].value == pytest.approx(0.2)
    assert checks[VALIDITY].passed
    assert checks[VALIDITY].partition == "sizes-list"

    # The threshold is run configuration: 20% passes under 25%.
    found = evaluate(store, wf, "sizes-list")
    judged = {r.check_name: r for r in results(wf, found, 0.25, "sizes-list")}
    assert judged[FAILURE_RATE].passed

    # A stored value of the wrong type (current config, so no re-run touches it) is caught.
    # The failed row is fixed at the source first: a run in which every processed row
    # failed fails (it is re-run each time), and its checks would not run.
    rows[4]["size"] = 5
    path.write_text(json.dumps(rows))
    import_file(store, path, "sizes-list")
    stored = store.results("sizes-list", ["sizes"])
    ids = sorted(r for r, found in stored.items() if found[("sizes", "copy")].status == OK)
    checks = materialize(wf, "sizes-list")  # the fixed row runs, and passes
    store.record_result(result(wf, ids[0], 0, outputs={"size_n": "one"}, lead_list="sizes-list"))
    checks = materialize(wf, "sizes-list")
    assert checks[FAILURE_RATE].passed and checks[COVERAGE].passed
    assert not checks[VALIDITY].passed
    assert "size_n: expected integer, got str" in checks[VALIDITY].metadata["examples"].value


def test_every_workflow_has_its_three_partitioned_checks_in_the_definitions() -> None:
    defs = build_definitions()
    graph = defs.resolve_asset_graph()
    for wf in load_workflows(node_types=registry(), set_aside_broken=True):
        keys = {
            dg.AssetCheckKey(dg.AssetKey(wf.name), n) for n in (COVERAGE, FAILURE_RATE, VALIDITY)
        }
        assert keys <= graph.asset_check_keys
    job = defs.resolve_job_def("enrich_chain")
    assert {"b2b_only__checks", "founder_linkedin__checks"} <= {
        node.name for node in job.graph.node_defs
    }
