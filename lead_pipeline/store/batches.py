"""LLM batches in the lead store: what each holds, where it stands, which rows wait on it.

A batch is recorded (state ``submitting``, with every question it holds) in one
transaction *before* the provider is asked to create it; the provider's id is
added once it answers (``open``). So a process killed at any point leaves either
no record (nothing was sent) or a record to find the batch again by. Collecting a
batch writes its rows' results, then drops its questions (``collected``): a row
waits on a batch exactly while one of its questions is held by an uncollected one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, select, update

from lead_pipeline.store.schema import llm_batch_requests, llm_batches
from lead_pipeline.store.shared import StorePart, aware, utcnow

SUBMITTING = "submitting"
OPEN = "open"
ENDED = "ended"
COLLECTED = "collected"
# A record a dead process left that matches more than one provider batch (Anthropic keeps
# no metadata to tell them apart): its rows keep waiting until an operator decides.
UNRESOLVED = "unresolved"
UNCOLLECTED = (SUBMITTING, OPEN, ENDED, UNRESOLVED)


@dataclass(frozen=True)
class BatchRecord:
    key: str
    provider: str
    batch_id: str | None
    lead_list: str
    workflow: str
    model: str
    state: str
    status: str | None
    rows: int
    counts: dict[str, int] | None
    price: float
    run_key: str | None
    submitted_at: datetime
    ended_at: datetime | None
    collected_at: datetime | None


@dataclass(frozen=True)
class BatchRequest:
    custom_id: str
    row_id: str
    workflow: str
    node: str
    node_index: int
    config_hash: str
    input_hash: str
    question: dict[str, Any]


def _record(row: Any) -> BatchRecord:
    return BatchRecord(
        key=row.key,
        provider=row.provider,
        batch_id=row.batch_id,
        lead_list=row.lead_list,
        workflow=row.workflow,
        model=row.model,
        state=row.state,
        status=row.status,
        rows=row.rows,
        counts=row.counts,
        price=row.price,
        run_key=row.run_key,
        submitted_at=aware(row.submitted_at),
        ended_at=aware(row.ended_at) if row.ended_at else None,
        collected_at=aware(row.collected_at) if row.collected_at else None,
    )


_REQUESTS_PER_INSERT = 2_000


class LlmBatches(StorePart):
    """Record, follow and collect LLM batches."""

    def record_batch(
        self,
        *,
        key: str,
        provider: str,
        lead_list: str,
        workflow: str,
        model: str,
        price: float,
        run_key: str | None,
        requests: Iterable[Mapping[str, Any]],
    ) -> None:
        """The batch about to be submitted and every question it holds, in one transaction.

        Each request maps ``custom_id``, ``row_id``, ``node``, ``node_index``,
        ``config_hash``, ``input_hash`` and ``question``.
        """
        requests = list(requests)
        with self.engine.begin() as conn:
            conn.execute(
                llm_batches.insert().values(
                    key=key,
                    provider=provider,
                    lead_list=lead_list,
                    workflow=workflow,
                    model=model,
                    state=SUBMITTING,
                    rows=len(requests),
                    price=price,
                    run_key=run_key,
                    submitted_at=utcnow(),
                )
            )
            # In parts: the questions' JSON of a 100,000-question batch is hundreds of
            # megabytes when every parameter is built at once.
            for start in range(0, len(requests), _REQUESTS_PER_INSERT):
                part = requests[start : start + _REQUESTS_PER_INSERT]
                conn.execute(
                    llm_batch_requests.insert(),
                    [
                        {**r, "batch_key": key, "lead_list": lead_list, "workflow": workflow}
                        for r in part
                    ],
                )

    def batch_created(self, key: str, batch_id: str, status: str) -> None:
        """The provider created the batch: its id, so it can be followed."""
        with self.engine.begin() as conn:
            conn.execute(
                update(llm_batches)
                .where(llm_batches.c.key == key)
                .values(batch_id=batch_id, status=status, state=OPEN)
            )

    def batch_unresolved(self, key: str) -> None:
        """The record matches more than one provider batch: leave its rows waiting."""
        with self.engine.begin() as conn:
            conn.execute(
                update(llm_batches).where(llm_batches.c.key == key).values(state=UNRESOLVED)
            )

    def forget_batch(self, key: str) -> None:
        """A batch the provider never created: its rows are free to be asked again."""
        with self.engine.begin() as conn:
            conn.execute(delete(llm_batch_requests).where(llm_batch_requests.c.batch_key == key))
            conn.execute(delete(llm_batches).where(llm_batches.c.key == key))

    def batch_seen(self, key: str, status: str, counts: Mapping[str, int], *, ended: bool) -> None:
        """The provider's latest word on the batch."""
        values: dict[str, Any] = {"status": status, "counts": dict(counts)}
        if ended:
            values.update(state=ENDED, ended_at=utcnow())
        with self.engine.begin() as conn:
            conn.execute(
                update(llm_batches)
                .where(and_(llm_batches.c.key == key, llm_batches.c.state != COLLECTED))
                .values(**values)
            )

    def batch_collected(self, key: str) -> None:
        """Every answer of the batch is saved as its row's result: drop its questions."""
        with self.engine.begin() as conn:
            conn.execute(delete(llm_batch_requests).where(llm_batch_requests.c.batch_key == key))
            conn.execute(
                update(llm_batches)
                .where(llm_batches.c.key == key)
                .values(state=COLLECTED, collected_at=utcnow())
            )

    def batches(
        self,
        lead_list: str | None = None,
        *,
        uncollected: bool = False,
        workflow: str | None = None,
    ) -> list[BatchRecord]:
        """Batches, newest first; ``uncollected`` keeps those whose rows still wait."""
        query = select(llm_batches).order_by(llm_batches.c.submitted_at.desc())
        if lead_list is not None:
            query = query.where(llm_batches.c.lead_list == lead_list)
        if workflow is not None:
            query = query.where(llm_batches.c.workflow == workflow)
        if uncollected:
            query = query.where(llm_batches.c.state.in_(UNCOLLECTED))
        with self._reading() as conn:
            return [_record(row) for row in conn.execute(query)]

    def batch(self, key_or_id: str) -> BatchRecord | None:
        """The batch with our key or the provider's id."""
        query = select(llm_batches).where(
            (llm_batches.c.key == key_or_id) | (llm_batches.c.batch_id == key_or_id)
        )
        with self._reading() as conn:
            row = conn.execute(query).first()
        return None if row is None else _record(row)

    def batch_requests(self, key: str) -> dict[str, BatchRequest]:
        """The questions ``key`` holds, by ``custom_id``."""
        c = llm_batch_requests.c
        query = select(
            c.custom_id,
            c.row_id,
            c.workflow,
            c.node,
            c.node_index,
            c.config_hash,
            c.input_hash,
            c.question,
        ).where(c.batch_key == key)
        with self._reading() as conn:
            return {row.custom_id: BatchRequest(*row) for row in conn.execute(query)}

    def waiting_rows(self, lead_list: str, workflow: str | None = None) -> dict[str, str]:
        """Rows with a question in a batch not yet collected, with that batch's key."""
        c = llm_batch_requests.c
        query = (
            select(c.row_id, c.batch_key)
            .join(llm_batches, llm_batches.c.key == c.batch_key)
            .where(
                and_(
                    c.lead_list == lead_list,
                    llm_batches.c.state.in_(UNCOLLECTED),
                )
            )
        )
        if workflow is not None:
            query = query.where(c.workflow == workflow)
        with self._reading() as conn:
            return {row.row_id: row.batch_key for row in conn.execute(query)}

    def waiting_count(self, lead_list: str, workflow: str) -> int:
        c = llm_batch_requests.c
        query = (
            select(func.count(func.distinct(c.row_id)))
            .join(llm_batches, llm_batches.c.key == c.batch_key)
            .where(
                and_(
                    c.lead_list == lead_list,
                    c.workflow == workflow,
                    llm_batches.c.state.in_(UNCOLLECTED),
                )
            )
        )
        with self._reading() as conn:
            return int(conn.execute(query).scalar() or 0)
