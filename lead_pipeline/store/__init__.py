"""The lead store: schema, migrations, every read and write, the wide view."""

from lead_pipeline.store.lead_store import ID_COLUMN, LeadStore, UnknownLeadListError
from lead_pipeline.store.names import InvalidNameError, check_name
from lead_pipeline.store.records import (
    FAILED,
    OK,
    SKIPPED,
    ImportReport,
    LeadListInfo,
    LeadRow,
    ListStatus,
    LockAttempt,
    NodeResult,
    RunLock,
    WorkflowStatus,
)

__all__ = [
    "FAILED",
    "ID_COLUMN",
    "OK",
    "SKIPPED",
    "ImportReport",
    "InvalidNameError",
    "LeadListInfo",
    "LeadRow",
    "LeadStore",
    "ListStatus",
    "LockAttempt",
    "NodeResult",
    "RunLock",
    "UnknownLeadListError",
    "WorkflowStatus",
    "check_name",
]
