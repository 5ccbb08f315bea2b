"""The batch lane: an ``llm`` node's questions sent as provider batches, collected later.

Submitting (end of a shard): the questions rows reached are grouped by backend and
model, cut to the providers' limits (count and size), each batch's most price is
reserved against the run's cap, and the batch is **recorded in the store before
the provider is asked to create it** (``store/batches.py``). The record's key is
sent as the batch's metadata (OpenAI); so whichever instant a process dies at,
the next run finds either nothing sent, or a record to find the batch again by
listing the provider's batches (:func:`resolve_submitting`). Never a second batch
for the same rows.

Collecting (start of a run, or ``enrich --wait``, or the Dagster sensor's run):
each ended batch's answers pass the same reader and schema check as a synchronous
answer, then the node's declared-output validator, and are saved as the node's
result at the batch price; the run's selection then takes each row on from its
next node. ``errored``, ``expired`` and ``canceled`` lines become failed results
with the provider's reason, retried by the next run like any failed row.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from lead_pipeline.providers.batch_api import BatchApi, BatchError, BatchLine, BatchState
from lead_pipeline.providers.batch_api import batch_api as open_batch_api
from lead_pipeline.providers.budget import Budget, Reservation
from lead_pipeline.providers.cache import cache_key
from lead_pipeline.providers.calls import CallRecord, finish
from lead_pipeline.providers.cost import PriceTable
from lead_pipeline.providers.errors import BudgetExceeded
from lead_pipeline.providers.llm import Question, read_answer
from lead_pipeline.providers.policy import CACHE_FORMAT
from lead_pipeline.settings import Settings
from lead_pipeline.store import FAILED, OK, LeadStore, NodeResult
from lead_pipeline.store.batches import OPEN, SUBMITTING, UNRESOLVED, BatchRecord
from lead_pipeline.store.shared import utcnow
from lead_pipeline.workflows.outputs import InvalidOutput

if TYPE_CHECKING:
    from lead_pipeline.engine.compile import CompiledWorkflow

log = logging.getLogger(__name__)

BATCH = "batch"
SYNC = "sync"
LANES = (SYNC, BATCH)
# The tag sent with an OpenAI batch naming our record of it.
TAG_KEY = "lead_pipeline_batch"
# An Anthropic batch created this long before our record of it cannot be ours.
_CLOCK_SLACK = timedelta(minutes=5)
_RESULTS_PER_COMMIT = 500


class WaitsOnBatch(Exception):
    """Raised by an ``llm`` node in the batch lane: the row's question joins a batch and the
    row stops here until the batch is collected. Not a failure."""

    def __init__(self, question: Question) -> None:
        super().__init__("waits on an LLM batch")
        self.question = question


@dataclass(frozen=True)
class Waiting:
    """A row's question waiting to be submitted with the shard's batch."""

    row_id: str
    node: str
    node_index: int
    config_hash: str
    input_hash: str
    question: Question

    @cached_property
    def custom_id(self) -> str:
        """Made once: a submission reads it several times per row (a hash each time)."""
        return custom_id(self.row_id, self.node, self.input_hash)


def custom_id(row_id: str, node: str, input_hash: str) -> str:
    """Names the row, the node and the input hash within both providers' rules
    (``[A-Za-z0-9_-]``, at most 64 characters); the store maps it back to the row."""
    row = hashlib.sha256(row_id.encode()).hexdigest()[:20]
    name = re.sub(r"[^A-Za-z0-9_-]", "_", node)[:24]
    return f"r{row}-{name}-{input_hash[:16]}"


def batch_price(prices: PriceTable, q: Question, usage: Any) -> float:
    """The batch lane's price of ``usage``: ``LEAD_PIPELINE_PRICES``' ``"<model>:batch"`` if
    set, else half the synchronous price."""
    return prices.batch_token_cost(q.model, usage, provider=q.backend)


def most_price(prices: PriceTable, q: Question) -> float:
    """The most one batch question can cost, as the synchronous lane reserves it, halved."""
    return batch_price(prices, q, q.most_usage([], q.first_limit))


@dataclass
class Submitted:
    """What one shard submitted, for the run's closing line."""

    batches: list[BatchRecord] = field(default_factory=list)
    refused: int = 0  # questions --max-cost kept from a batch
    refusal: str | None = None

    @property
    def rows(self) -> int:
        return sum(b.rows for b in self.batches)


def _chunks(api: BatchApi, lines: Sequence[bytes]) -> Iterable[list[int]]:
    """Indexes of encoded ``lines`` cut to the provider's count and size limits, in order."""
    chunk: list[int] = []
    size = 0
    for i, line in enumerate(lines):
        n = len(line)
        if chunk and (len(chunk) >= api.max_requests or size + n > api.max_bytes):
            yield chunk
            chunk, size = [], 0
        chunk.append(i)
        size += n
    if chunk:
        yield chunk


def submit(
    store: LeadStore,
    workflow: str,
    lead_list: str,
    waiting: Sequence[Waiting],
    *,
    settings: Settings,
    budget: Budget,
    run_key: str | None = None,
    api_factory: Callable[[str, Settings], BatchApi] = open_batch_api,
) -> Submitted:
    """Submit ``waiting`` in as few batches as the limits allow (one model per batch)."""
    done = Submitted()
    prices = PriceTable(settings.prices)
    groups: dict[tuple[str, str], list[Waiting]] = {}
    seen: set[str] = set()
    for w in waiting:
        if w.custom_id in seen:  # the same row and node twice: ask once
            continue
        seen.add(w.custom_id)
        groups.setdefault((w.question.backend, w.question.model), []).append(w)
    for (backend, model), group in groups.items():
        # Rows asking the very same question (the same company twice) send one line: the
        # collector caches its answer, and the response cache answers the others, as it
        # would in the synchronous lane.
        twins: dict[str, list[Waiting]] = {}
        for w in group:
            twins.setdefault(cache_key(backend, w.question.request()), []).append(w)
        members = [same[0] for same in twins.values()]
        riders = {same[0].custom_id: same[1:] for same in twins.values()}
        with api_factory(backend, settings) as api:
            # Each line encoded once: its size cuts the chunks, its bytes are sent.
            lines = [
                api.encode(BatchLine(w.custom_id, w.question.body([], w.question.first_limit)))
                for w in members
            ]
            for chunk in _chunks(api, lines):
                if done.refusal is not None:
                    done.refused += len(chunk)
                    continue
                price = sum(most_price(prices, members[i].question) for i in chunk)
                reservation = Reservation(f"{backend} batch")
                if budget.max_cost is not None:
                    try:
                        budget.reserve(reservation, price)
                    except BudgetExceeded:
                        done.refused += len(chunk)
                        done.refusal = (
                            f"a {backend} batch of {len(chunk)} questions may cost "
                            f"${price:.4f}, more than what is left of max_cost "
                            f"${budget.max_cost:.4f}: not submitted"
                        )
                        continue
                record = _submit_one(
                    store,
                    api,
                    workflow,
                    lead_list,
                    model,
                    run_key,
                    price,
                    [w for i in chunk for w in (members[i], *riders[members[i].custom_id])],
                    [lines[i] for i in chunk],
                )
                # Submitted money is committed money: the batch counts at its most here;
                # each row's result carries its real batch price once collected.
                if budget.max_cost is not None:
                    budget.settle(reservation, price if record is not None else 0.0)
                if record is not None:
                    done.batches.append(record)
    return done


def _submit_one(
    store: LeadStore,
    api: BatchApi,
    workflow: str,
    lead_list: str,
    model: str,
    run_key: str | None,
    price: float,
    members: Sequence[Waiting],
    lines: Sequence[bytes],
) -> BatchRecord | None:
    key = uuid.uuid4().hex
    store.record_batch(
        key=key,
        provider=api.provider,
        lead_list=lead_list,
        workflow=workflow,
        model=model,
        price=price,
        run_key=run_key,
        requests=[
            {
                "custom_id": w.custom_id,
                "row_id": w.row_id,
                "node": w.node,
                "node_index": w.node_index,
                "config_hash": w.config_hash,
                "input_hash": w.input_hash,
                "question": w.question.as_dict(),
            }
            for w in members
        ],
    )
    tag = {TAG_KEY: key, "lead_list": lead_list[:512], "workflow": workflow[:512]}
    try:
        state = api.submit(lines, tag)
    except BatchError as exc:
        if exc.status is not None and 400 <= exc.status < 500 and exc.status != 429:
            store.forget_batch(key)  # refused outright: nothing was created
        else:  # perhaps created before the answer was lost: look for it
            _resolve(store, api, store.batch(key))
        log.warning("%s", exc)
        return store.batch(key) if store.batch(key) is not None else None
    store.batch_created(key, state.batch_id, state.status)
    return store.batch(key)


def _resolve(store: LeadStore, api: BatchApi, record: BatchRecord | None) -> None:
    """A batch recorded but not known to be created: adopt it from the provider's list, or
    forget it (its rows are asked again) when the provider never created it."""
    if record is None or record.state != SUBMITTING:
        return
    listed = api.list(limit=100)
    known = {b.batch_id for b in store.batches(record.lead_list)}
    found: list[BatchState] = []
    if api.provider == "openai":
        found = [b for b in listed if b.metadata.get(TAG_KEY) == record.key]
    else:  # Anthropic keeps no metadata: its size and time, and only if unambiguous
        for b in listed:
            if b.batch_id in known:
                continue
            total = sum(b.counts.values())
            created = _iso(b.created_at)
            recent = created is not None and created >= record.submitted_at - _CLOCK_SLACK
            if total == record.rows and recent:
                found.append(b)
        if len(found) > 1:
            log.warning(
                "anthropic batch record %s matches %d batches (%s); its rows are left "
                "waiting: cancel the ones that are not wanted with `lead-pipeline batches "
                "cancel ID`",
                record.key,
                len(found),
                ", ".join(b.batch_id for b in found),
            )
            store.batch_unresolved(record.key)
            return
    if found:
        store.batch_created(record.key, found[0].batch_id, found[0].status)
    else:
        store.forget_batch(record.key)


def _iso(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def resolve_submitting(
    store: LeadStore,
    lead_list: str,
    settings: Settings,
    *,
    api_factory: Callable[[str, Settings], BatchApi] = open_batch_api,
) -> None:
    """Settle every batch of ``lead_list`` a dead process left between record and create."""
    for record in store.batches(lead_list, uncollected=True):
        if record.state == SUBMITTING:
            with api_factory(record.provider, settings) as api:
                _resolve(store, api, record)


@dataclass
class Collected:
    batches: int = 0
    ok: int = 0
    still_open: list[BatchRecord] = field(default_factory=list)
    # Rows whose batch line failed: the run that collected them does not ask again (an
    # answer that is always invalid would loop ``--wait``); the next run does.
    failed_rows: set[str] = field(default_factory=set)

    @property
    def failed(self) -> int:
        return len(self.failed_rows)


def collect(
    store: LeadStore,
    workflow: CompiledWorkflow,
    lead_list: str,
    settings: Settings,
    *,
    api_factory: Callable[[str, Settings], BatchApi] = open_batch_api,
) -> Collected:
    """Poll ``workflow``'s open batches on ``lead_list``; save every ended one's answers."""
    resolve_submitting(store, lead_list, settings, api_factory=api_factory)
    done = Collected()
    for record in store.batches(lead_list, uncollected=True, workflow=workflow.name):
        if record.batch_id is None:
            done.still_open.append(record)
            continue
        with api_factory(record.provider, settings) as api:
            state = api.get(record.batch_id)
            store.batch_seen(record.key, state.status, state.counts, ended=state.ended)
            if not state.ended:
                done.still_open.append(store.batch(record.key) or record)
                continue
            ok, failed = _save_answers(store, workflow, record, state, api, settings)
        store.batch_collected(record.key)
        done.batches += 1
        done.ok += ok
        done.failed_rows |= failed
    return done


def _save_answers(
    store: LeadStore,
    workflow: CompiledWorkflow,
    record: BatchRecord,
    state: BatchState,
    api: BatchApi,
    settings: Settings,
) -> tuple[int, set[str]]:
    """Save each answer line as its row's result; the number saved ok, the rows failed."""
    requests = store.batch_requests(record.key)
    nodes = {n.id: n for n in workflow.nodes}
    prices = PriceTable(settings.prices)
    now = utcnow()
    pending: list[NodeResult] = []
    ok = 0
    failed: set[str] = set()

    def result(
        req: Any,
        status: str,
        outputs: Any,
        error: str | None,
        cost: float,
        *,
        answered: bool = False,
        usage: Any = None,
        cached: bool = False,
    ) -> None:
        # The row's provider call, traced as a synchronous one is (``lead-pipeline trace``):
        # the line of this batch that answered it, or the cache a twin's line filled.
        call = CallRecord(
            provider=record.provider,
            endpoint=None if cached else api.line_endpoint,
            cached=cached,
            status=200 if answered else None,
            attempts=0 if cached else 1,
            latency_ms=0.0 if cached else (now - record.submitted_at).total_seconds() * 1000,
            cost=cost,
            error=None if status == OK else error,
            model=req.question.get("model"),
            batch_id=record.batch_id,
            custom_id=req.custom_id,
        )
        finish(call, cached=cached, cost=cost, usage=usage)
        pending.append(
            NodeResult(
                lead_list=record.lead_list,
                row_id=req.row_id,
                workflow=req.workflow,
                node=req.node,
                node_index=req.node_index,
                status=status,
                config_hash=req.config_hash,
                input_hash=req.input_hash,
                outputs=outputs if status == OK else None,
                error=error,
                started_at=record.submitted_at,
                finished_at=now,
                duration_s=(now - record.submitted_at).total_seconds(),
                cost=cost,
                provider=f"{record.provider} batch",
                calls=[call.as_dict()],
            )
        )
        if status == FAILED:
            failed.add(req.row_id)
        if len(pending) >= _RESULTS_PER_COMMIT:
            store.record_results(pending)
            pending.clear()

    for line in api.results(state):
        req = requests.pop(line.custom_id, None)
        if req is None:
            continue  # not ours, or already answered by an earlier line
        if line.body is None:
            result(req, FAILED, None, f"batch {record.batch_id}: {line.error}", 0.0)
            continue
        q = Question(**req.question)
        answer = read_answer(q, line.body)
        cost = batch_price(prices, q, answer.usage)
        if answer.problem is not None:
            error = f"invalid answer in batch {record.batch_id}: {answer.problem}"
            result(req, FAILED, None, error, cost, answered=True, usage=answer.usage)
            continue
        node = nodes.get(req.node)
        try:
            outputs = node.validator.check(answer.value) if node is not None else answer.value
        except InvalidOutput as exc:
            why = f"invalid output {exc}"
            result(req, FAILED, None, why, cost, answered=True, usage=answer.usage)
            continue
        _cache(store, q, answer.value, answer.usage, answer.model)
        ok += 1
        result(req, OK, outputs, None, cost, answered=True, usage=answer.usage)
    for req in list(requests.values()):  # the same question as an answered line's: cached
        entry = _cached(store, Question(**req.question))
        node = nodes.get(req.node)
        if entry is not None:
            try:
                outputs = node.validator.check(entry) if node is not None else entry
            except InvalidOutput:
                continue
            del requests[req.custom_id]
            result(req, OK, outputs, None, 0.0, cached=True)
            ok += 1
    for req in requests.values():  # no line at all: the batch ended without it
        why = f"batch {record.batch_id} ended {state.status} without an answer for this row"
        result(req, FAILED, None, why, 0.0)
    if pending:
        store.record_results(pending)
    return ok, failed


def _cached(store: LeadStore, q: Question) -> Any | None:
    """The cached answer's data for ``q``, if any (what :func:`_cache` wrote)."""
    try:
        entry = store.cache_get(cache_key(q.backend, q.request()))
    except Exception as exc:
        log.warning("reading the cache for a batch answer failed: %s", exc)
        return None
    if isinstance(entry, dict) and entry.get("format") == CACHE_FORMAT:
        return entry.get("data")
    return None


def _cache(store: LeadStore, q: Question, value: Any, usage: Any, model: str | None) -> None:
    """A batch answer answers the same synchronous question too (one response cache)."""
    entry = {
        "format": CACHE_FORMAT,
        "data": value,
        "usage": usage.as_dict() if usage is not None else None,
        "model": model,
    }
    try:
        store.cache_put(cache_key(q.backend, q.request()), q.backend, entry)
    except Exception as exc:  # a broken cache costs a later call, never the answer
        log.warning("caching a batch answer failed: %s", exc)


def _without_polling(record: BatchRecord) -> bool | None:
    """True: a run has work with ``record`` (it ended, or a dead process left it between
    record and create); False: none until an operator resolves it; None: ask the provider."""
    if record.state == UNRESOLVED:
        return False
    if record.state != OPEN or record.batch_id is None:
        return True
    return None


def ended_batches(
    store: LeadStore,
    workflow: str,
    lead_list: str,
    settings: Settings,
    *,
    api_factory: Callable[[str, Settings], BatchApi] = open_batch_api,
) -> bool:
    """Whether one of ``workflow``'s batches on ``lead_list`` is ready to collect (ended at
    the provider) or left between record and create; polls the open ones."""
    for record in store.batches(lead_list, uncollected=True, workflow=workflow):
        known = _without_polling(record)
        if known is not None:
            if known:
                return True
            continue
        assert record.batch_id is not None
        with api_factory(record.provider, settings) as api:
            state = api.get(record.batch_id)
        store.batch_seen(record.key, state.status, state.counts, ended=state.ended)
        if state.ended:
            return True
    return False


@dataclass
class Polled:
    """Where a list's uncollected batches stand, for ``enrich --wait``'s progress line."""

    open: int = 0
    ended: int = 0
    rows: int = 0
    answered: int = 0

    def line(self) -> str:
        return (
            f"LLM batches: {self.ended} ended, {self.open} open; {self.answered} of "
            f"{self.rows} questions answered so far"
        )


def _answered(state: BatchState) -> int:
    counts = state.counts
    if state.provider == "openai":
        return counts.get("completed", 0) + counts.get("failed", 0)
    return sum(v for k, v in counts.items() if k != "processing")


def poll_batches(
    store: LeadStore,
    lead_list: str,
    settings: Settings,
    *,
    api_factory: Callable[[str, Settings], BatchApi] = open_batch_api,
) -> Polled:
    """Ask the provider about every uncollected batch of ``lead_list`` and note its word."""
    polled = Polled()
    for record in store.batches(lead_list, uncollected=True):
        polled.rows += record.rows
        known = _without_polling(record)
        if known is not None:
            polled.ended += known  # ended, or left by a dead process: a run settles it
            continue
        assert record.batch_id is not None
        with api_factory(record.provider, settings) as api:
            state = api.get(record.batch_id)
        store.batch_seen(record.key, state.status, state.counts, ended=state.ended)
        polled.answered += _answered(state)
        if state.ended:
            polled.ended += 1
        else:
            polled.open += 1
    return polled


@dataclass
class Ready:
    """Lead lists with a batch to collect (their ended batches' keys), for the sensor."""

    lists: dict[str, list[str]] = field(default_factory=dict)
    open: int = 0
    problems: list[str] = field(default_factory=list)


def lists_to_collect(
    store: LeadStore,
    settings: Settings,
    *,
    api_factory: Callable[[str, Settings], BatchApi] = open_batch_api,
) -> Ready:
    """Poll every open batch of every list; the lists where one has ended (or was left
    between record and create by a dead process). A provider that cannot be read is a
    problem reported, not a stop: the other lists are still polled."""
    ready = Ready()
    for record in store.batches(uncollected=True):
        known = _without_polling(record)
        if known is not None:
            if known:
                ready.lists.setdefault(record.lead_list, []).append(record.key)
            continue
        assert record.batch_id is not None
        try:
            with api_factory(record.provider, settings) as api:
                state = api.get(record.batch_id)
        except BatchError as exc:
            ready.problems.append(f"{record.lead_list}: {exc}")
            continue
        store.batch_seen(record.key, state.status, state.counts, ended=state.ended)
        if state.ended:
            ready.lists.setdefault(record.lead_list, []).append(record.key)
        else:
            ready.open += 1
    return ready
