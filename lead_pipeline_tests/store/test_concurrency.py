"""Many writers at once, in threads and in separate processes, on both backends.

What must hold: no writer fails (no "database is locked"), and every write is
in the store afterwards, including concurrent updates to one key.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from pathlib import Path

import pytest

from lead_pipeline.store import LeadStore, migrate
from lead_pipeline.store.connection import make_engine
from lead_pipeline_tests.store import _writers

WORKERS = 6
ROWS = 40
SHARED_WRITES = 10


def _prepare(store: LeadStore) -> None:
    store.import_rows(
        _writers.LEAD_LIST, [(f"row-{i}", {"name": f"Company {i}"}) for i in range(ROWS)]
    )


def _assert_nothing_lost(store: LeadStore, workers: int) -> None:
    results = store.results(_writers.LEAD_LIST)
    for worker in range(workers):
        got = {
            row_id: by_key[("wf", f"w{worker}")].outputs
            for row_id, by_key in results.items()
            if ("wf", f"w{worker}") in by_key
        }
        expected = {f"row-{row}": {"worker": worker, "row": row} for row in range(ROWS)}
        assert got == expected, f"worker {worker} lost writes"
    shared = results[_writers.SHARED_ROW][("wf", "shared")]
    assert shared.attempts == workers * SHARED_WRITES
    status = store.status(_writers.LEAD_LIST, {"wf": [f"w{w}" for w in range(workers)]})
    [wf] = status.workflows
    assert wf.ok == ROWS


def test_threads_share_one_store(store: LeadStore) -> None:
    _prepare(store)
    errors: list[BaseException] = []
    start = threading.Barrier(WORKERS)

    def run(worker: int) -> None:
        try:
            start.wait(timeout=60)
            _writers.write_results(store, worker, ROWS, SHARED_WRITES)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a writer thread hung"
    assert errors == []
    _assert_nothing_lost(store, WORKERS)


def test_separate_processes(store: LeadStore, db_url: str) -> None:
    _prepare(store)
    workers = 4
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(workers)
    out = ctx.Queue()
    procs = [
        ctx.Process(
            target=_writers.process_main,
            args=(db_url, w, ROWS, SHARED_WRITES, barrier, out),
        )
        for w in range(workers)
    ]
    for proc in procs:
        proc.start()
    reports = dict(out.get(timeout=300) for _ in procs)
    for proc in procs:
        proc.join(timeout=60)
    failures = {w: tb for w, tb in reports.items() if tb is not None}
    assert failures == {}, "\n".join(failures.values())
    assert [p.exitcode for p in procs] == [0] * workers
    _assert_nothing_lost(store, workers)


def test_processes_upgrading_one_database_at_once(db_url: str) -> None:
    """Step processes of the first run after a release all open an old database together."""
    engine = make_engine(db_url)
    try:
        migrate.upgrade(engine, "0001")
    finally:
        engine.dispose()
    workers = 4
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(workers)
    out = ctx.Queue()
    procs = [
        ctx.Process(target=_writers.open_store_main, args=(db_url, barrier, out))
        for _ in range(workers)
    ]
    for proc in procs:
        proc.start()
    failures = [tb for tb in (out.get(timeout=300) for _ in procs) if tb is not None]
    for proc in procs:
        proc.join(timeout=60)
    assert failures == [], "\n".join(failures)
    engine = make_engine(db_url)
    try:
        assert migrate.current_revision(engine) == migrate.head_revision()
    finally:
        engine.dispose()


def test_sqlite_readers_do_not_wait_for_a_writer(tmp_path: Path) -> None:
    """Reads begin a plain transaction, not ``BEGIN IMMEDIATE``: the progress poll's count
    of a whole list must not hold up, nor wait for, a shard's commit. Another process
    holds the write lock here; the store's reads answer while it is held."""
    path = tmp_path / "leads.db"
    store = LeadStore(f"sqlite:///{path}")
    store.import_rows("demo", [("a", {"name": "Acme"}), ("b", {"name": "Globex"})])
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    answers: list[object] = []

    def read() -> None:
        answers.append(store.status("demo", {}).rows)
        answers.append(store.latest_run_id())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(30)  # a reader that took the write lock would wait for the writer
    answered = list(answers)
    writer.execute("ROLLBACK")
    writer.close()
    reader.join(60)
    assert answered == [2, 0]


def test_postgresql_connections_plan_every_query_afresh(db_url: str) -> None:
    """psycopg 3 prepares a statement on the server after five runs, and the server may then
    keep a generic plan made while the table was empty: a shard reading results by id while
    another shard filled the table scanned it whole for every 500 ids (53 s, not 7 s).
    The store's PostgreSQL connections never prepare."""
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite has no server-side plans")
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            assert conn.connection.driver_connection.prepare_threshold is None
    finally:
        engine.dispose()
