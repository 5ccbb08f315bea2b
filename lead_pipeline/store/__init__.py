"""The lead store: schema, migrations, every read and write, the wide view.

:class:`LeadStore` is the door; behind it each concern is a module of its own
(``lists``, ``results``, ``wide``, ``runs``, ``cache``, ``step_outputs``,
``crm_records``, and ``pace`` for providers' shared rate), all on one engine.
"""

from lead_pipeline.store.lead_store import LeadStore
from lead_pipeline.store.lists import UnknownLeadListError
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
from lead_pipeline.store.wide import ID_COLUMN, IMPORTED_PREFIX, imported_name

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
