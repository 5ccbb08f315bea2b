"""Engines tuned for many concurrent writers on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

SQLITE_BUSY_TIMEOUT_MS = 60_000


def strict_json(value: Any) -> str:
    """JSON as both backends accept it: NaN and infinity are refused, not written.

    Python's default writes ``NaN``, which SQLite stores and PostgreSQL rejects
    mid-transaction; refusing it on both means one backend never keeps what the
    other would lose. Outputs are checked before they get here
    (``workflows.outputs``); this is the last line for every other JSON column.
    """
    return json.dumps(value, allow_nan=False)


def make_engine(url: str) -> Engine:
    """Create an engine; for SQLite, one that survives several writing processes.

    SQLite gets WAL (readers never block the writer), a long busy timeout, foreign
    keys, and ``BEGIN IMMEDIATE`` for every transaction: taking the write lock up
    front means a transaction never has to upgrade a read lock mid-way, which is
    the case where SQLite reports "database is locked" without waiting.
    ``synchronous=NORMAL`` in WAL mode keeps every commit safe against a killed
    process (only an OS crash can lose the last commits).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, future=True, json_serializer=strict_json)

    engine = create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        future=True,
        json_serializer=strict_json,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
