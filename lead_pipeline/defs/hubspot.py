"""The ``hubspot_sync`` asset: a lead list's companies and founders, upserted into HubSpot.

Downstream of the workflows and partitioned by lead list like them; it is not
part of the ``enrich_chain`` job (a CRM write is a decision, not a side effect
of enriching), so it runs when materialized from the UI or by
``lead-pipeline sync hubspot``, which share :func:`lead_pipeline.crm.sync_hubspot`.
"""

import asyncio
from collections.abc import Sequence

import dagster as dg
from pydantic import Field

from lead_pipeline.crm import sync_hubspot
from lead_pipeline.defs.partitions import lead_lists_partitions
from lead_pipeline.defs.resources import LeadStoreResource
from lead_pipeline.engine.compile import CompiledWorkflow
from lead_pipeline.providers import NotConfigured
from lead_pipeline.store import UnknownLeadListError

ASSET = "hubspot_sync"


class HubSpotSyncConfig(dg.Config):
    dry_run: bool = Field(
        default=False, description="log the requests that would be sent; send and write nothing"
    )


def build_hubspot_asset(workflows: Sequence[CompiledWorkflow]) -> dg.AssetsDefinition:
    @dg.asset(
        name=ASSET,
        partitions_def=lead_lists_partitions,
        deps=[dg.AssetKey(w.name) for w in workflows],
        group_name="crm",
        kinds={"hubspot"},
        description="Upsert the list's companies (by domain) and founders with a work email "
        "(contacts, by email) into HubSpot and associate them; only records whose values "
        "changed since the last sync are sent. Needs HUBSPOT_ACCESS_TOKEN.",
    )
    def hubspot_sync(
        context: dg.AssetExecutionContext, config: HubSpotSyncConfig, store: LeadStoreResource
    ) -> dg.MaterializeResult:
        lead_list = context.partition_key
        try:
            report = asyncio.run(sync_hubspot(store.get(), lead_list, dry_run=config.dry_run))
        except (NotConfigured, UnknownLeadListError) as exc:
            raise dg.Failure(
                description=f"{ASSET} cannot run: {exc}", allow_retries=False
            ) from None
        for request in report.requests:
            context.log.info(f"would send {request['method']} {request['path']}: {request['body']}")
        for reason in report.skipped:
            context.log.info(f"left out {reason}")
        context.log.info(report.line())
        if report.errors:
            # What succeeded is recorded; the failed records are sent again next time.
            raise dg.Failure(
                description=f"{len(report.errors)} HubSpot record(s) failed: "
                + "; ".join(report.errors[:5]),
                allow_retries=False,
            )
        c, p = report.companies, report.contacts
        return dg.MaterializeResult(
            metadata={
                "dry_run": report.dry_run,
                "companies_sent": c.changed,
                "companies_created": c.created,
                "companies_updated": c.updated,
                "companies_unchanged": c.unchanged,
                "contacts_sent": p.changed,
                "contacts_created": p.created,
                "contacts_updated": p.updated,
                "contacts_unchanged": p.unchanged,
                "associations": report.associated,
                "rows_left_out": len(report.skipped),
            }
        )

    return hubspot_sync
