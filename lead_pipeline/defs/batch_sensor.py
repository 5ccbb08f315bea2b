"""The LLM-batch sensor: when a lead list's batch has ended, request the run that collects it.

Thin on purpose: which lists have a batch to collect is the engine's answer
(``engine/batch_lane.lists_to_collect``, one provider poll per open batch); the run
it requests collects each ended batch in its select step, saves the answers as the
rows' results and takes the rows on through their next nodes, in the batch lane
again (a later ``llm`` node submits the next round). The run key names the ended
batches, so a tick that sees the same ones again requests nothing new.

It polls every five minutes: a batch takes minutes to hours, and each tick costs one
request per open batch, far inside both providers' limits. It ships stopped: turn
it on in the UI (Automation, ``llm_batches``) or with ``dagster sensor start
llm_batches``.
"""

import hashlib
from collections.abc import Sequence

import dagster as dg

from lead_pipeline.defs.requests import chain_request
from lead_pipeline.defs.resources import LeadStoreResource
from lead_pipeline.engine.batch_lane import BATCH, lists_to_collect
from lead_pipeline.engine.compile import CompiledWorkflow
from lead_pipeline.settings import get_settings

BATCH_SENSOR_NAME = "llm_batches"
INTERVAL_SECONDS = 300


def build_llm_batches_sensor(
    workflows: Sequence[CompiledWorkflow], job_name: str
) -> dg.SensorDefinition:
    @dg.sensor(
        name=BATCH_SENSOR_NAME,
        job_name=job_name,
        minimum_interval_seconds=INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Polls the open LLM batches of `enrich --lane batch` and, when one has "
        "ended, runs the chain on its lead list to collect it and go on.",
    )
    def llm_batches_sensor(
        context: dg.SensorEvaluationContext, store: LeadStoreResource
    ) -> dg.SensorResult:
        ready = lists_to_collect(store.get(), get_settings())
        for problem in ready.problems:
            context.log.warning(problem)
        requests: list[dg.RunRequest] = []
        for lead_list, keys in sorted(ready.lists.items()):
            ended = hashlib.sha256(",".join(sorted(keys)).encode()).hexdigest()[:16]
            request, _ = chain_request(
                lead_list,
                workflows,
                source=BATCH_SENSOR_NAME,
                run_key=f"{lead_list}@batches:{ended}",
                run_config={"resources": {"enrich": {"config": {"lane": BATCH}}}},
            )
            if request is not None:
                requests.append(request)
        skip = None if requests else f"no ended LLM batch ({ready.open} open)"
        return dg.SensorResult(run_requests=requests, skip_reason=skip)

    return llm_batches_sensor
