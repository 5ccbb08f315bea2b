"""Engines tuned for many concurrent writers on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

from lead_pipeline.providers.redact import SecretsIndex, has_secret, scrub_with, secrets_index
from lead_pipeline.store.records import StoreUnwritable

SQLITE_BUSY_TIMEOUT_MS = 60_000
# PostgreSQL cannot store NUL in text or JSON; SQLite can. Every text the store writes, by any
# path (lead fields, ids, run parameters, messages), has NUL replaced on both backends, so a
# stray NUL in a lead file is neither a failed import on one backend nor a different value on
# the other. (Declared outputs are refused earlier, with the node's error.)
NUL_REPLACEMENT = "\ufffd"
_JSON_NUL = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


def strict_json(value: Any) -> str:
    """JSON as both backends accept it: NaN and infinity are refused, not written.

    Python's default writes ``NaN``, which SQLite stores and PostgreSQL rejects
    mid-transaction; refusing it on both means one backend never keeps what the
    other would lose. Outputs are checked before they get here
    (``workflows.outputs``); this is the last line for every other JSON column.
    """
    text = json.dumps(value, allow_nan=False)
    return _JSON_NUL.sub(r"\1\\ufffd", text) if "\\u0000" in text else text


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", NUL_REPLACEMENT) if "\x00" in value else value
    if isinstance(value, dict):
        return {k: _without_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_without_nul(v) for v in value)
    return value


def _replace_nul(engine: Engine) -> None:
    @event.listens_for(engine, "before_cursor_execute", retval=True)
    def _on_execute(conn, cursor, statement, parameters, context, executemany):
        # Every statement passes here: ``repr`` (C code) shows any NUL as ``\x00``, so a
        # batch without one, nearly all of them, skips the walk through every value.
        # A false alarm (a text holding a backslash and "x00") only takes the walk.
        if "\\x00" not in repr(parameters):
            return statement, parameters
        return statement, _without_nul(parameters)


# Writes whose text comes only from the user's lead file (an import), not from a provider,
# a node or an error: scrubbing them would cost seconds on a big list and find nothing.
_LEAD_FILE_WRITES = ("INSERT INTO leads ", "UPDATE leads ")


def _scrubbed(value: Any, index: SecretsIndex) -> Any:
    if isinstance(value, str):
        return scrub_with(value, index) if value else value
    if isinstance(value, dict):
        return {k: _scrubbed(v, index) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_scrubbed(v, index) for v in value)
    return value


def _texts(value: Any, found: list[str]) -> None:
    """Every text in a statement's parameters (a row, or a list of rows, of values)."""
    rows = value if isinstance(value, list) else [value]
    for row in rows:
        for item in row.values() if isinstance(row, dict) else row:
            if type(item) is str:
                found.append(item)
            elif isinstance(item, dict | list | tuple):
                _texts([item], found)


def _scrub_writes(engine: Engine) -> None:
    """Every text the store writes (errors, run messages, outputs, cached answers, CRM
    records, every table but the lead file's own rows) passes the one scrubber, so no
    caller can store a key, whole or in part, by forgetting to scrub it."""

    @event.listens_for(engine, "before_cursor_execute", retval=True)
    def _on_execute(conn, cursor, statement, parameters, context, executemany):
        if not statement.startswith(("INSERT", "UPDATE")) or statement.startswith(
            _LEAD_FILE_WRITES
        ):
            return statement, parameters
        index = secrets_index()
        texts: list[str] = []
        _texts(parameters, texts)
        if not has_secret("\n".join(texts), index):  # nearly always: one pass for the batch
            return statement, parameters
        return statement, _scrubbed(parameters, index)


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
        # psycopg 3 prepares a statement on the server after its fifth run, and the server
        # may then keep one generic plan for it. A shard reading its rows' results while
        # another shard fills the empty table got a plan made for the empty table (a
        # sequential scan per 500 ids) and took 53 s instead of 7 s: plan every query afresh.
        connect_args = {"prepare_threshold": None} if parsed.get_driver_name() == "psycopg" else {}
        engine = create_engine(
            url,
            pool_pre_ping=True,
            future=True,
            json_serializer=strict_json,
            connect_args=connect_args,
        )
        _name_unwritable(engine, parsed)
        _scrub_writes(engine)
        _replace_nul(engine)
        return engine

    engine = create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        future=True,
        json_serializer=strict_json,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")  # WAL: a reader neither waits for nor blocks writers
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    _name_unwritable(engine, parsed)
    _scrub_writes(engine)
    _replace_nul(engine)

    return engine


# The execution option that marks a connection as reading only (``StorePart._reading``).
READ_ONLY = "lead_pipeline_read_only"

# What SQLite says, and PostgreSQL's SQLSTATEs, when no write can succeed until someone
# fixes the disk, the file or the server: retrying row after row would only pay providers
# for answers that cannot be saved.
_SQLITE_UNWRITABLE = (
    "attempt to write a readonly database",
    "database or disk is full",
    "disk i/o error",
    "unable to open database file",
    "readonly database",
)
_PG_UNWRITABLE = {"53100": "disk full", "25006": "read-only transaction", "42501": "permission"}


def _name_unwritable(engine: Engine, url: URL) -> None:
    """Turn "cannot write" database errors into :class:`StoreUnwritable` naming the file
    (SQLite) or the server and database (PostgreSQL, password hidden)."""
    where = (
        f"file {url.database}"
        if url.get_backend_name() == "sqlite"
        else url.render_as_string(hide_password=True)
    )

    @event.listens_for(engine, "handle_error")
    def _on_error(context) -> None:
        original = context.original_exception
        text = str(original).strip()
        state = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
        if state in _PG_UNWRITABLE or any(m in text.lower() for m in _SQLITE_UNWRITABLE):
            raise StoreUnwritable(
                f"cannot write the lead store ({where}): {text.splitlines()[0] if text else state}"
            ) from None
