"""Plain records the store returns, so callers never see SQLAlchemy rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# The column that carries a row's id in every view, export and node's values.
ID_COLUMN = "_id"
# The fields every lead list has (possibly empty): an import maps its columns to these
# (leads/fields.py), and any workflow may read them.
CANONICAL_FIELDS: tuple[str, ...] = (
    "name",
    "website",
    "description",
    "one_liner",
    "linkedin_url",
    "country",
    "email",
)

OK = "ok"
FAILED = "failed"
SKIPPED = "skipped"
STATUSES = (OK, FAILED, SKIPPED)


@dataclass(frozen=True)
class LeadRow:
    row_id: str
    position: int
    fields: dict[str, Any]


@dataclass(frozen=True)
class NodeResult:
    """One node's outcome for one row: what the engine writes the moment a node ends."""

    lead_list: str
    row_id: str
    workflow: str
    node: str
    node_index: int
    status: str
    config_hash: str
    outputs: dict[str, Any] | None = None
    error: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_s: float | None = None
    cost: float = 0.0
    provider: str | None = None
    attempts: int = 1
    input_hash: str | None = None
    # The provider calls this result made (providers/calls.py), for the row trace.
    calls: list[dict[str, Any]] | None = None
    # A research node's evidence per output field: {field: {status, url, quote, fetched_at,
    # reason}}; ``unsupported`` counts the fields whose answer its evidence did not support.
    evidence: dict[str, Any] | None = None
    unsupported: int | None = None


@dataclass
class ImportReport:
    lead_list: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    pruned: int = 0
    # What the import decided about the file, for the user to read.
    source: str | None = None
    field_map: dict[str, Any] | None = None
    id_rule: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.added + self.updated + self.unchanged


@dataclass
class WorkflowStatus:
    workflow: str
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    pending: int = 0
    cost: float = 0.0
    # Answers of research nodes their evidence did not support, stored as no answer.
    unsupported: int = 0
    # Rows whose llm question is in an LLM batch not yet collected: not pending.
    waiting: int = 0


@dataclass(frozen=True)
class FailedRow:
    """A row whose node failed: what ``lead-pipeline errors`` lists and runs group by cause."""

    row_id: str
    name: str | None
    workflow: str
    node: str
    error: str
    attempts: int
    finished_at: datetime | None
    cost: float = 0.0  # what the node's paid calls cost, over every attempt


@dataclass
class ListStatus:
    lead_list: str
    rows: int
    workflows: list[WorkflowStatus] = field(default_factory=list)


@dataclass(frozen=True)
class LeadListInfo:
    name: str
    rows: int
    source: str | None
    updated_at: datetime
    field_map: dict[str, Any] | None = None  # leads.fields.FieldMapping as JSON
    id_rule: str | None = None  # "derived" or "column:<name>"; None before its next import


class StoreUnwritable(RuntimeError):
    """The lead store cannot be written (a read-only or full disk, a file the process may not
    write, a read-only replica): no later write can succeed, so the run stops, naming it."""


@dataclass(frozen=True)
class RunLock:
    """The run of ``workflow`` on ``lead_list`` in progress: its owner (a Dagster run id),
    when it took the lock and when it last showed signs of life."""

    lead_list: str
    workflow: str
    owner: str
    acquired_at: datetime
    heartbeat_at: datetime
    holder: str | None = None  # the launching process, "host pid start-time", when known


@dataclass(frozen=True)
class LockAttempt:
    """What an attempt to take a run lock found.

    ``holder`` is the lock as it now stands: ours when ``acquired``, else the
    run in the way. ``replaced`` is the lock of a run that stopped
    heartbeating (or ended) and was taken over.
    """

    acquired: bool
    holder: RunLock
    replaced: RunLock | None = None


@dataclass(frozen=True)
class CrmRecord:
    """What a lead list last sent to a CRM for one record, and the CRM's id for it."""

    object_type: str  # "companies" | "contacts"
    key: str  # the record's unique property in the CRM: a domain, an email
    row_id: str
    crm_id: str
    synced_hash: str
