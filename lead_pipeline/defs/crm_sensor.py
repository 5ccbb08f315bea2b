"""The lead-file sensor's counterpart for HubSpot: refresh the lists imported from it.

Every lead list whose source is HubSpot (``import hubspot``: a list, filters, or
every company, recorded with the list) is imported again as it was chosen, with
its stored ``--map``; when a company was added or changed, the chain runs on the
list, and staleness re-runs only the rows that changed. An import is all or
nothing, so a tick stopped by HubSpot's limits leaves the list as it was and the
next tick tries again. The import runs inside the tick, which Dagster gives about
a minute: one list per tick, the one refreshed longest ago first; a portal too big
for that is better refreshed by ``lead-pipeline import hubspot`` from cron.

Ships stopped: turn it on in the UI (Automation, ``hubspot_lists``).
"""

import asyncio
from collections.abc import Sequence

import dagster as dg

from lead_pipeline.crm.hubspot_source import CompanySelection, import_hubspot
from lead_pipeline.defs.requests import chain_request
from lead_pipeline.defs.resources import LeadStoreResource
from lead_pipeline.engine.compile import CompiledWorkflow
from lead_pipeline.leads.errors import LeadFileError
from lead_pipeline.providers.errors import ProviderError

CRM_SENSOR_NAME = "hubspot_lists"
INTERVAL_SECONDS = 3600


def build_hubspot_lists_sensor(
    workflows: Sequence[CompiledWorkflow], job_name: str
) -> dg.SensorDefinition:
    @dg.sensor(
        name=CRM_SENSOR_NAME,
        job_name=job_name,
        minimum_interval_seconds=INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Re-imports each lead list imported from HubSpot (one per tick, the "
        "stalest first) and runs the chain on it when companies were added or changed.",
    )
    def hubspot_lists_sensor(
        context: dg.SensorEvaluationContext, store: LeadStoreResource
    ) -> dg.SensorResult:
        lead_store = store.get()
        from_crm = [
            (info, selection)
            for info in lead_store.lists()
            if (selection := CompanySelection.from_source(info.source)) is not None
        ]
        if not from_crm:
            return dg.SensorResult(skip_reason="no lead list was imported from HubSpot")
        info, selection = min(from_crm, key=lambda pair: pair[0].updated_at)
        try:
            report = asyncio.run(import_hubspot(lead_store, info.name, selection))
        except (LeadFileError, ProviderError) as exc:
            context.log.error(f"{info.name}: not refreshed: {exc}")
            return dg.SensorResult(skip_reason=f"{info.name}: not refreshed: {exc}")
        changed = report.added + report.updated
        if not changed:
            return dg.SensorResult(
                skip_reason=f"{info.name}: {report.unchanged} companies, none changed in HubSpot"
            )
        request, skipped = chain_request(
            info.name,
            workflows,
            source="hubspot_lists",
            run_key=f"{info.name}@{report.source}@{context.cursor or 0}",
        )
        for workflow, reason in skipped.items():
            context.log.info(f"{info.name}: {workflow} left out: {reason}")
        context.log.info(
            f"{info.name}: {report.added} added, {report.updated} updated from HubSpot"
        )
        return dg.SensorResult(
            run_requests=[request] if request is not None else [],
            cursor=str(int(context.cursor or 0) + 1),
        )

    return hubspot_lists_sensor
