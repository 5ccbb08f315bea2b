"""The lead store: schema, migrations, every read and write, the wide view."""

from lead_pipeline.store.lead_store import (
    ID_COLUMN,
    IMPORTED_PREFIX,
    LeadStore,
    UnknownLeadListError,
    imported_name,
)
from lead_pipeline.store.names import InvalidNameError, check_name
from lead_pipeline.store.records import (
    FAILED,
    OK,
    SKIPPED,
    CrmRecord,
    FailedRow,
    ImportReport,
    LeadListInfo,
    LeadRow,
    ListStatus,
    LockAttempt,
    NodeResult,
    RunLock,
    StoreUnwritable,
    WorkflowStatus,
)

__all__ = [
    "FAILED",
    "ID_COLUMN",
    "IMPORTED_PREFIX",
    "OK",
    "SKIPPED",
    "CrmRecord",
    "FailedRow",
    "ImportReport",
    "InvalidNameError",
    "LeadListInfo",
    "LeadRow",
    "LeadStore",
    "ListStatus",
    "LockAttempt",
    "NodeResult",
    "RunLock",
    "StoreUnwritable",
    "UnknownLeadListError",
    "WorkflowStatus",
    "check_name",
    "imported_name",
]
