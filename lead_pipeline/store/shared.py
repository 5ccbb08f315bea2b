"""What every part of the store shares: one engine, the dialect's upsert, the UTC clock.

Each part (lists, results, views, runs, locks, cache, step outputs, CRM records) is
a small class over the one engine the :class:`~lead_pipeline.store.LeadStore`
façade opens, so every part writes through the same connection pool, NUL
filter and "cannot write" translation (``connection.py``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table
from sqlalchemy.dialects import postgresql, sqlite

from lead_pipeline.store.connection import READ_ONLY


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(moment: datetime) -> datetime:
    """SQLite hands timestamps back without their zone; every one we write is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class StorePart:
    """One concern of the store, on the engine every other part uses too."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _reading(self) -> Connection:
        """A connection that only reads (``with self._reading() as conn``).

        On SQLite every write transaction takes the write lock up front (``BEGIN
        IMMEDIATE``, see ``connection.py``); a reader has no need to, and taking it would
        hold every shard's commits behind a count of the whole list, as the CLI's
        progress poll was doing once a second. A write through it is never committed.
        """
        return self.engine.connect().execution_options(**{READ_ONLY: True})

    def _insert(self, table: Table) -> Any:
        """An INSERT that can say ``ON CONFLICT``: both backends have it, each in its dialect."""
        return (postgresql if self.engine.dialect.name == "postgresql" else sqlite).insert(table)
