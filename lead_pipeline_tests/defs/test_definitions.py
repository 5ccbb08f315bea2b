"""The code location loads: one asset per workflow, partitioned by lead list, deps from needs."""

from __future__ import annotations

import dagster as dg

from lead_pipeline.defs.definitions import CHAIN_JOB, build_definitions
from lead_pipeline.defs.partitions import LEAD_LISTS


def test_every_workflow_is_a_partitioned_asset_with_its_deps() -> None:
    defs = build_definitions()
    graph = defs.resolve_asset_graph()
    b2b, founders = dg.AssetKey("b2b_only"), dg.AssetKey("founder_linkedin")
    assert {b2b, founders} <= set(graph.get_all_asset_keys())
    assert graph.get(founders).parent_keys == {b2b}
    assert graph.get(b2b).parent_keys == set()
    for key in (b2b, founders):
        node = graph.get(key)
        assert isinstance(node.partitions_def, dg.DynamicPartitionsDefinition)
        assert node.partitions_def.name == LEAD_LISTS
        assert node.code_version and len(node.code_version) == 32
        assert node.group_name == "enrichment"
    specs = {spec.key: spec for spec in defs.resolve_all_asset_specs()}
    assert "llm" in specs[b2b].kinds and "search" in specs[founders].kinds
    assert "is_b2b" in specs[b2b].metadata["outputs"]
    assert specs[founders].metadata["where"] == "is_b2b == true"


def test_the_chain_job_runs_every_workflow_on_the_multiprocess_executor() -> None:
    job = build_definitions().resolve_job_def(CHAIN_JOB)
    assert job.partitions_def is not None and job.partitions_def.name == LEAD_LISTS
    assert job.executor_def.name == "lead_pipeline_executor"
    step_ops = {node.name for node in job.graph.node_defs}
    assert {"b2b_only", "founder_linkedin"} <= step_ops


def test_user_workflows_join_the_code_location(tmp_path, monkeypatch) -> None:
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "tagline.yaml").write_text(
        "name: tagline\nneeds: [b2b_only]\nwhere: is_b2b == true\nnodes:\n"
        "  - id: upper\n    type: expression\n    values: {tagline: 'upper(one_liner)'}\n"
        "    outputs: {tagline: string}\n"
    )
    monkeypatch.setenv("LEAD_PIPELINE_WORKFLOWS", str(folder))
    graph = build_definitions().resolve_asset_graph()
    assert graph.get(dg.AssetKey("tagline")).parent_keys == {dg.AssetKey("b2b_only")}


def test_the_select_step_refuses_a_parameter_no_workflow_declares() -> None:
    from lead_pipeline.defs.assets import build_workflow_asset
    from lead_pipeline.defs.io_manager import LeadStoreIOManager
    from lead_pipeline.defs.partitions import instance, register_lead_list
    from lead_pipeline.defs.resources import EnrichOptions, LeadStoreResource
    from lead_pipeline.engine.registry import registry
    from lead_pipeline.store import LeadStore
    from lead_pipeline.workflows.loader import load_workflows

    b2b = next(
        w
        for w in load_workflows(node_types=registry(), set_aside_broken=True)
        if w.name == "b2b_only"
    )
    LeadStore().import_rows("demo", [("a", {"name": "Acme", "one_liner": "APIs for banks"})])
    register_lead_list("demo")
    store = LeadStoreResource()

    def launch(params: dict[str, str]) -> dg.ExecuteInProcessResult:
        return dg.materialize(
            [build_workflow_asset(b2b, frozenset({"llm_threshold"}))],
            partition_key="demo",
            instance=instance(),
            raise_on_error=False,
            resources={
                "store": store,
                "enrich": EnrichOptions(params=params),
                "io_manager": LeadStoreIOManager(store=store),
            },
        )

    refused = launch({"llm_treshold": "0.9"})
    assert not refused.success
    failure = refused.get_step_failure_events()[0].step_failure_data.user_failure_data
    assert failure is not None and "llm_treshold" in (failure.description or "")
    assert LeadStore().status("demo").workflows == []  # no row was touched
    assert launch({"llm_threshold": "0.9"}).success
