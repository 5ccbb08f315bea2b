"""The ``llm_batches`` sensor: nothing while a batch is open; once it has ended, one run
request for its lead list, in the batch lane; that run collects it and the rows go on."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from lead_pipeline.defs.assets import build_workflow_asset
from lead_pipeline.defs.batch_sensor import build_llm_batches_sensor
from lead_pipeline.defs.io_manager import LeadStoreIOManager
from lead_pipeline.defs.partitions import instance, register_lead_list
from lead_pipeline.defs.resources import EnrichOptions, LeadStoreResource
from lead_pipeline.store import OK, LeadStore
from lead_pipeline_tests.batch.conftest import compile_workflow, import_rows
from lead_pipeline_tests.servers.llm_batch import OpenAIBatchServer


def test_the_sensor_requests_the_collecting_run_once_a_batch_has_ended(
    tmp_path: Path, openai_batches: OpenAIBatchServer
) -> None:
    store = LeadStore()  # the one the sensor's resource opens
    import_rows(store, 4)
    register_lead_list("demo")
    workflow = compile_workflow(tmp_path, "openai")
    resource = LeadStoreResource()
    asset = build_workflow_asset(workflow, frozenset())
    submitted = dg.materialize(
        [asset],
        partition_key="demo",
        instance=instance(),
        resources={
            "store": resource,
            "enrich": EnrichOptions(lane="batch"),
            "io_manager": LeadStoreIOManager(store=resource),
        },
    )
    # The asset's materialization shows the waiting rows and the batch submitted.
    [materialization] = submitted.asset_materializations_for_node("grade")
    assert materialization.metadata["waiting_on_llm_batches"].value == 4
    (batch_id,) = openai_batches.batches
    assert batch_id in str(materialization.metadata["llm_batches_submitted"].value)
    sensor = build_llm_batches_sensor([workflow], "enrich_chain")

    def tick() -> dg.SensorResult:
        context = dg.build_sensor_context(instance=instance(), resources={"store": resource})
        result = sensor(context)
        assert isinstance(result, dg.SensorResult)
        return result

    waiting = tick()
    assert not waiting.run_requests and "1 open" in str(waiting.skip_reason)
    openai_batches.end()
    [request] = tick().run_requests or []
    assert request.partition_key == "demo"
    assert request.asset_selection == [dg.AssetKey("grade")]
    lane = request.run_config["resources"]["enrich"]["config"]["lane"]
    assert lane == "batch"
    # The same ended batch gives the same run key: the daemon launches it once.
    [again] = tick().run_requests or []
    assert again.run_key == request.run_key
    # The requested run collects the batch and the rows go on to their next node.
    outcome = dg.materialize(
        [asset],
        partition_key="demo",
        instance=instance(),
        resources={
            "store": resource,
            "enrich": EnrichOptions(lane=lane),
            "io_manager": LeadStoreIOManager(store=resource),
        },
    )
    assert outcome.success
    results = store.results("demo", ["grade"])
    assert len(results) == 4
    assert all(row[("grade", "label")].status == OK for row in results.values())
    assert tick().run_requests == []  # collected: nothing left to request
    store.dispose()
