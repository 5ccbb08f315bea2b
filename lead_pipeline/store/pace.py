"""A provider's pace kept in the lead store's database, shared by every process using it.

Each reservation is one atomic ``UPDATE ... RETURNING`` (GCRA: move the
provider's "theoretical arrival time" one interval on), so shards on any number
of machines draw from one rate without a lock held across statements, on SQLite
and PostgreSQL alike. Times are the database's clock, so the machines' clocks
need not agree.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Float, func, literal, literal_column, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from lead_pipeline.store.schema import provider_pace


class StorePace:
    """Implements ``providers.ratelimit.SharedPace`` on the lead store's engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        self._known: set[str] = set()

    def _now(self) -> ColumnElement[float]:
        if self._postgres:
            return func.extract("epoch", func.statement_timestamp()).cast(Float)
        return literal_column("((julianday('now') - 2440587.5) * 86400.0)", Float)

    def _greatest(self, *values: ColumnElement[float]) -> ColumnElement[float]:
        # SQLite's max() with several arguments is PostgreSQL's greatest().
        return (func.greatest if self._postgres else func.max)(*values)

    def _ensure(self, provider: str) -> None:
        if provider in self._known:
            return
        insert = postgresql.insert if self._postgres else sqlite.insert
        stmt = insert(provider_pace).values(provider=provider, tat=0.0, paused_until=0.0)
        with self.engine.begin() as conn:
            conn.execute(stmt.on_conflict_do_nothing(index_elements=["provider"]))
        self._known.add(provider)

    def reserve(self, provider: str, interval: float, burst: int) -> float:
        """Book the next request of ``provider``; returns the seconds to wait before sending it."""
        self._ensure(provider)
        now = self._now()
        start = self._greatest(now, provider_pace.c.paused_until)
        stmt = (
            update(provider_pace)
            .where(provider_pace.c.provider == provider)
            .values(tat=self._greatest(provider_pace.c.tat, start) + literal(interval))
            .returning(provider_pace.c.tat, provider_pace.c.paused_until, now.label("now"))
        )
        with self.engine.begin() as conn:
            tat, paused_until, at = conn.execute(stmt).one()
        allowed_at = tat - interval * burst  # the new tat, less this request and the burst
        return max(allowed_at, paused_until, at) - at

    def pause(self, provider: str, seconds: float) -> None:
        """Hold every process's requests to ``provider`` for ``seconds`` from now."""
        self._ensure(provider)
        stmt = (
            update(provider_pace)
            .where(provider_pace.c.provider == provider)
            .values(
                paused_until=self._greatest(
                    provider_pace.c.paused_until, self._now() + literal(max(0.0, seconds))
                )
            )
        )
        with self.engine.begin() as conn:
            conn.execute(stmt)
