"""CRM sync: lead lists into a CRM (HubSpot), sending only what changed. No Dagster here."""

from lead_pipeline.crm.sync import SyncReport, build_records, sync_hubspot

__all__ = ["SyncReport", "build_records", "sync_hubspot"]
