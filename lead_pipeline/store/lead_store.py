"""The lead store's one door: a façade over the store's parts, which share one engine.

The store is the only code in the project that speaks SQL. Each concern is its
own module and class (``lists``, ``results``, ``wide``, ``runs``, ``cache``,
``step_outputs``, ``crm_records``, ``ledger``); :class:`LeadStore` opens the engine once,
hands it to every part, and answers each part's methods under the names call
sites use (``store.rows(...)``, ``store.cache_get(...)``), so callers need no
idea where a method lives.

Every write is a short transaction committed before the call returns, so a
killed process loses nothing already written. The engine hands node results
to ``record_results`` in batches (``committer.py``): one commit for every row
in flight, not one per result.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload

from sqlalchemy import Engine

from lead_pipeline.settings import get_settings
from lead_pipeline.store import migrate
from lead_pipeline.store.batches import LlmBatches
from lead_pipeline.store.cache import ResponseCache
from lead_pipeline.store.connection import make_engine
from lead_pipeline.store.crm_records import CrmRecords
from lead_pipeline.store.ledger import RunLedgers
from lead_pipeline.store.lists import LeadLists
from lead_pipeline.store.records import StoreUnwritable
from lead_pipeline.store.results import NodeResults
from lead_pipeline.store.runs import RunLocks, RunRecords
from lead_pipeline.store.settled import SettledRows
from lead_pipeline.store.step_outputs import StepOutputs
from lead_pipeline.store.wide import WideView

P = ParamSpec("P")
R = TypeVar("R")


class _Part(Generic[P, R]):
    """A façade method that is the named part's own method (its signature and docstring)."""

    def __init__(self, part: str, method: Callable[Concatenate[Any, P], R]) -> None:
        self.part = part
        self.name = method.__name__
        self.__doc__ = method.__doc__

    @overload
    def __get__(self, store: None, owner: type | None = None) -> _Part[P, R]: ...
    @overload
    def __get__(self, store: LeadStore, owner: type | None = None) -> Callable[P, R]: ...
    def __get__(self, store: LeadStore | None, owner: type | None = None) -> Any:
        if store is None:
            return self
        return getattr(getattr(store, self.part), self.name)


class LeadStore:
    """Lead lists and rows, results and views, runs and locks, caches: one engine, one part each."""

    def __init__(self, url: str | None = None, *, upgrade: bool = True) -> None:
        self.url = url or get_settings().db_url
        if self.url.startswith("sqlite:///"):
            folder = Path(self.url.removeprefix("sqlite:///")).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # a file where a folder should be, /proc, no permission
                raise StoreUnwritable(
                    f"cannot create the lead store's folder {folder}: {exc.strerror or exc}"
                ) from None
        self.engine: Engine = make_engine(self.url)
        if upgrade:
            migrate.upgrade(self.engine)
        self.lead_lists = LeadLists(self.engine)
        self.node_results = NodeResults(self.engine, self.lead_lists)
        self.settled_rows = SettledRows(self.engine)
        self.wide_view = WideView(self.engine, self.lead_lists)
        self.run_records = RunRecords(self.engine)
        self.run_locks = RunLocks(self.engine)
        self.response_cache = ResponseCache(self.engine)
        self.step_outputs = StepOutputs(self.engine)
        self.crm_records = CrmRecords(self.engine)
        self.run_ledgers = RunLedgers(self.engine)
        self.llm_batches = LlmBatches(self.engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        self.engine.dispose()

    # lead lists and their rows
    lists = _Part("lead_lists", LeadLists.lists)
    list_info = _Part("lead_lists", LeadLists.list_info)
    has_list = _Part("lead_lists", LeadLists.has_list)
    require_list = _Part("lead_lists", LeadLists.require_list)
    import_rows = _Part("lead_lists", LeadLists.import_rows)
    rows = _Part("lead_lists", LeadLists.rows)
    row_count = _Part("lead_lists", LeadLists.row_count)
    mapped_rows = _Part("lead_lists", LeadLists.mapped_rows)
    field_mapping = _Part("lead_lists", LeadLists.field_mapping)

    # node results and the counts made from them
    record_result = _Part("node_results", NodeResults.record_result)
    record_results = _Part("node_results", NodeResults.record_results)
    results = _Part("node_results", NodeResults.results)
    row_results = _Part("node_results", NodeResults.row_results)
    stored_outputs = _Part("node_results", NodeResults.stored_outputs)
    status = _Part("node_results", NodeResults.status)
    run_counts = _Part("node_results", NodeResults.run_counts)
    failures = _Part("node_results", NodeResults.failures)
    settle = _Part("settled_rows", SettledRows.settle)
    unsettled = _Part("settled_rows", SettledRows.unsettled)
    has_row_without_results = _Part("settled_rows", SettledRows.has_row_without_results)

    # what nodes and exports see
    output_columns = _Part("wide_view", WideView.output_columns)
    row_values = _Part("wide_view", WideView.row_values)
    wide_frame = _Part("wide_view", WideView.wide_frame)
    preview_rows = _Part("wide_view", WideView.preview_rows)
    evidence = _Part("wide_view", WideView.evidence)

    # run records
    start_run = _Part("run_records", RunRecords.start_run)
    finish_run = _Part("run_records", RunRecords.finish_run)
    latest_run_id = _Part("run_records", RunRecords.latest_run_id)
    recent_runs = _Part("run_records", RunRecords.recent_runs)
    run_covering = _Part("run_records", RunRecords.run_covering)

    # run ledgers: each capped run's money, shared by its shards and processes
    open_ledger = _Part("run_ledgers", RunLedgers.open_ledger)
    ledger_reserve = _Part("run_ledgers", RunLedgers.ledger_reserve)
    ledger_settle = _Part("run_ledgers", RunLedgers.ledger_settle)
    ledger = _Part("run_ledgers", RunLedgers.ledger)
    prune_ledgers = _Part("run_ledgers", RunLedgers.prune_ledgers)

    # LLM batches (--lane batch): what each holds, where it stands, which rows wait on it
    record_batch = _Part("llm_batches", LlmBatches.record_batch)
    batch_created = _Part("llm_batches", LlmBatches.batch_created)
    forget_batch = _Part("llm_batches", LlmBatches.forget_batch)
    batch_unresolved = _Part("llm_batches", LlmBatches.batch_unresolved)
    batch_seen = _Part("llm_batches", LlmBatches.batch_seen)
    batch_collected = _Part("llm_batches", LlmBatches.batch_collected)
    batches = _Part("llm_batches", LlmBatches.batches)
    batch = _Part("llm_batches", LlmBatches.batch)
    batch_requests = _Part("llm_batches", LlmBatches.batch_requests)
    waiting_rows = _Part("llm_batches", LlmBatches.waiting_rows)
    waiting_count = _Part("llm_batches", LlmBatches.waiting_count)

    # run locks
    run_lock = _Part("run_locks", RunLocks.run_lock)
    acquire_run_lock = _Part("run_locks", RunLocks.acquire_run_lock)
    heartbeat_run_lock = _Part("run_locks", RunLocks.heartbeat_run_lock)
    release_run_lock = _Part("run_locks", RunLocks.release_run_lock)

    # the provider response cache
    cache_get = _Part("response_cache", ResponseCache.cache_get)
    cache_entry = _Part("response_cache", ResponseCache.cache_entry)
    cache_entries = _Part("response_cache", ResponseCache.cache_entries)
    prune_cache = _Part("response_cache", ResponseCache.prune_cache)
    cache_put = _Part("response_cache", ResponseCache.cache_put)

    # values passed between Dagster steps
    put_step_output = _Part("step_outputs", StepOutputs.put_step_output)
    get_step_output = _Part("step_outputs", StepOutputs.get_step_output)
    prune_step_outputs = _Part("step_outputs", StepOutputs.prune_step_outputs)

    # what was last sent to a CRM
    crm_state = _Part("crm_records", CrmRecords.crm_state)
    record_crm_sync = _Part("crm_records", CrmRecords.record_crm_sync)
