"""The daily re-run: each lead list's chain, once a day, for rows that need it.

One run per lead list (partition), so one list's failure or cost limit never
holds up another. A run processes only rows that are missing, failed or stale
(the default selection), so a day with nothing to do costs a few seconds per
list and no provider calls; rows that failed on a provider outage get retried,
and rows a changed workflow made stale get redone.

The schedule ships stopped: turn it on in the UI (Automation,
``daily_enrichment``) or with ``dagster schedule start daily_enrichment``; the
daemon (started by ``make ui`` / ``dagster dev``) must be running.
"""

from collections.abc import Iterator, Sequence

import dagster as dg

from lead_pipeline.defs.partitions import LEAD_LISTS
from lead_pipeline.defs.requests import chain_request
from lead_pipeline.defs.resources import LeadStoreResource
from lead_pipeline.engine.compile import CompiledWorkflow

SCHEDULE_NAME = "daily_enrichment"
CRON = "0 3 * * *"  # 03:00 UTC, out of office hours in Europe and the Americas
TIMEZONE = "UTC"


def build_daily_schedule(
    workflows: Sequence[CompiledWorkflow], job_name: str
) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=SCHEDULE_NAME,
        job_name=job_name,
        cron_schedule=CRON,
        execution_timezone=TIMEZONE,
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description="Every day, re-run the chain on each lead list: only missing, failed "
        "or stale rows are processed.",
    )
    def daily_enrichment(
        context: dg.ScheduleEvaluationContext, store: LeadStoreResource
    ) -> Iterator[dg.RunRequest | dg.SkipReason]:
        partitions = context.instance.get_dynamic_partitions(LEAD_LISTS)
        in_store = {info.name for info in store.get().lists()}
        lists = [name for name in partitions if name in in_store]
        for name in sorted(set(partitions) - in_store):
            context.log.warning(f"lead list {name!r} is a partition but not in the store: skipped")
        if not lists:
            yield dg.SkipReason("no lead lists yet: import one with lead-pipeline import")
            return
        for name in lists:
            request, skipped = chain_request(name, workflows, source="schedule", run_key=name)
            for workflow, reason in skipped.items():
                context.log.info(f"{name}: {workflow} left out: {reason}")
            if request is not None:
                yield request

    return daily_enrichment
