"""The lead store: schema, migrations, every read and write, the wide view.

:class:`LeadStore` is the door; behind it each concern is a module of its own
(``lists``, ``results``, ``wide``, ``runs``, ``cache``, ``step_outputs``,
``crm_records``, and ``pace`` for providers' shared rate), all on one engine.
"""

from lead_pipeline.lazy import lazy_exports

# Each name loads its submodule on first use (see lead_pipeline/lazy.py).
__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "lead_store": ("LeadStore",),
        "lists": ("UnknownLeadListError",),
        "names": (
            "InvalidNameError",
            "check_name",
        ),
        "records": (
            "ID_COLUMN",
            "FAILED",
            "OK",
            "SKIPPED",
            "CrmRecord",
            "FailedRow",
            "ImportReport",
            "LeadListInfo",
            "LeadRow",
            "ListStatus",
            "LockAttempt",
            "NodeResult",
            "RunLock",
            "StoreUnwritable",
            "WorkflowStatus",
        ),
        "wide": (
            "IMPORTED_PREFIX",
            "imported_name",
        ),
    },
)
