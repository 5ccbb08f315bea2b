"""The lead store's tables: the single definition the migrations and queries share.

Base fields and enrichment outputs live in different tables on purpose: an import
can never overwrite a result, and a run can never overwrite imported data.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

lead_lists = Table(
    "lead_lists",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("source", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # How the list was imported, reused by every re-import: which column each
    # canonical lead field reads (leads.fields.FieldMapping as JSON) and where
    # row ids come from ("derived" or "column:<name>").
    Column("field_map", JSON, nullable=True),
    Column("id_rule", Text, nullable=True),
)

leads = Table(
    "leads",
    metadata,
    Column("lead_list", String(64), primary_key=True),
    Column("row_id", String(160), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("fields", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    ForeignKeyConstraint(["lead_list"], ["lead_lists.name"], ondelete="CASCADE"),
)

node_results = Table(
    "node_results",
    metadata,
    Column("lead_list", String(64), primary_key=True),
    Column("row_id", String(160), primary_key=True),
    Column("workflow", String(64), primary_key=True),
    Column("node", String(64), primary_key=True),
    Column("node_index", Integer, nullable=False),
    Column("status", String(8), nullable=False),
    Column("outputs", JSON, nullable=True),
    Column("error", Text, nullable=True),
    Column("attempts", Integer, nullable=False, default=1),
    Column("started_at", DateTime(timezone=True), nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("duration_s", Float, nullable=True),
    Column("cost", Float, nullable=False, default=0.0),
    Column("config_hash", String(64), nullable=False),
    # A hash of exactly what the node read (row values, upstream outputs, the
    # parameters it uses); NULL for results written before it was recorded.
    Column("input_hash", String(64), nullable=True),
    Column("provider", String(64), nullable=True),
    # Kept with the result they belong to, so the latest result's are the only ones kept
    # and a pruned row takes them along: the provider calls the node made (the row
    # trace), and a research node's evidence per field with how many fields it refused.
    Column("calls", JSON, nullable=True),
    Column("evidence", JSON, nullable=True),
    Column("unsupported", Integer, nullable=True),
    ForeignKeyConstraint(
        ["lead_list", "row_id"], ["leads.lead_list", "leads.row_id"], ondelete="CASCADE"
    ),
    Index("ix_node_results_workflow", "lead_list", "workflow", "status"),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dagster_run_id", String(64), nullable=True),
    Column("lead_list", String(64), nullable=False),
    Column("workflow", String(64), nullable=False),
    Column("params", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("ok", Integer, nullable=False, default=0),
    Column("failed", Integer, nullable=False, default=0),
    Column("skipped", Integer, nullable=False, default=0),
    Column("cost", Float, nullable=False, default=0.0),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("message", Text, nullable=True),
)

response_cache = Table(
    "response_cache",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("provider", String(64), nullable=False),
    Column("response", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

step_outputs = Table(
    "step_outputs",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("step_key", String(255), primary_key=True),
    Column("name", String(255), primary_key=True),
    Column("value", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# One row per (lead list, workflow) while a run of that workflow on that list is
# going: who holds it (the Dagster run id) and when it last showed signs of life.
# A run whose processes died stops heartbeating, and its lock is taken over once
# the heartbeat is older than the stale threshold.
run_locks = Table(
    "run_locks",
    metadata,
    Column("lead_list", String(64), primary_key=True),
    Column("workflow", String(64), primary_key=True),
    Column("owner", String(64), nullable=False),
    Column("acquired_at", DateTime(timezone=True), nullable=False),
    Column("heartbeat_at", DateTime(timezone=True), nullable=False),
    # "host pid start-time" of the command that launched the run, when one did (the CLI):
    # a later run on that host that finds the process gone takes the lock over at once.
    Column("holder", String(200), nullable=True),
)

# One row per rate-limited provider: its pace, shared by every shard of every run
# on every machine using this store. ``tat`` is the GCRA "theoretical arrival
# time" and ``paused_until`` the end of the provider's last Retry-After, both in
# the database's own clock (epoch seconds), so machines' clocks need not agree.
provider_pace = Table(
    "provider_pace",
    metadata,
    Column("provider", String(64), primary_key=True),
    Column("tat", Float, nullable=False),
    Column("paused_until", Float, nullable=False),
)

# One row per run with a cost cap: the money its paid calls reserved and spent, in
# nano-dollars, shared by every workflow, shard and process of the run
# (``store/ledger.py``). ``run_key`` is the Dagster run id.
run_ledgers = Table(
    "run_ledgers",
    metadata,
    Column("run_key", String(128), primary_key=True),
    Column("cap", BigInteger, nullable=False),
    Column("reserved", BigInteger, nullable=False),
    Column("spent", BigInteger, nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
)

# What each lead list last sent to a CRM: one row per (list, CRM, object type, key),
# the key being the record's unique property there (a company's domain, a contact's
# email). ``synced_hash`` is the hash of the properties sent, so a re-sync sends only
# records whose values changed; ``crm_id`` is the CRM's own id of the record.
crm_records = Table(
    "crm_records",
    metadata,
    Column("lead_list", String(64), primary_key=True),
    Column("crm", String(32), primary_key=True),
    Column("object_type", String(32), primary_key=True),
    Column("key", String(320), primary_key=True),
    Column("row_id", String(255), nullable=False),
    Column("crm_id", String(64), nullable=False),
    Column("synced_hash", String(64), nullable=False),
    Column("synced_at", DateTime(timezone=True), nullable=False),
)

# LLM batches (``--lane batch``): one row per batch, written before the provider is
# asked to create it (``state`` "submitting"), so a crash between creating and
# recording it leaves a record to find the batch again by (``engine/batch_lane.py``).
# ``key`` is ours, sent as the batch's metadata; ``batch_id`` is the provider's.
llm_batches = Table(
    "llm_batches",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("provider", String(16), nullable=False),
    Column("batch_id", String(128), nullable=True),
    Column("lead_list", String(64), nullable=False),
    Column("workflow", String(64), nullable=False),
    Column("model", String(128), nullable=False),
    # submitting -> open -> ended -> collected
    Column("state", String(16), nullable=False),
    Column("status", String(32), nullable=True),  # the provider's own word
    Column("rows", Integer, nullable=False),
    Column("counts", JSON, nullable=True),
    Column("price", Float, nullable=False),  # the most it can cost, as reserved
    Column("run_key", String(128), nullable=True),
    Column("submitted_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=True),
    Column("collected_at", DateTime(timezone=True), nullable=True),
    Index("ix_llm_batches_list", "lead_list", "state"),
)

# The questions a batch holds until it is collected: which row and node each
# ``custom_id`` answers, with the question itself (its schema reads the answer).
llm_batch_requests = Table(
    "llm_batch_requests",
    metadata,
    Column("batch_key", String(64), primary_key=True),
    Column("custom_id", String(64), primary_key=True),
    Column("lead_list", String(64), nullable=False),
    Column("row_id", String(160), nullable=False),
    Column("workflow", String(64), nullable=False),
    Column("node", String(64), nullable=False),
    Column("node_index", Integer, nullable=False),
    Column("config_hash", String(64), nullable=False),
    Column("input_hash", String(64), nullable=False),
    Column("question", JSON, nullable=False),
    ForeignKeyConstraint(["batch_key"], ["llm_batches.key"], ondelete="CASCADE"),
    Index("ix_llm_batch_requests_row", "lead_list", "workflow", "row_id"),
)
