"""The provider response cache: answers kept by request key, each provider with its lifetime."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, select

from lead_pipeline.store.schema import response_cache
from lead_pipeline.store.shared import StorePart, aware, utcnow

# Keys in one IN (...): well under SQLite's and PostgreSQL's bound parameters.
_KEYS_PER_QUERY = 500


class ResponseCache(StorePart):
    """Provider answers by request key, so a re-run pays only for what it has not asked."""

    def cache_get(self, key: str) -> Any | None:
        with self._reading() as conn:
            row = conn.execute(
                select(response_cache.c.response).where(response_cache.c.key == key)
            ).first()
        return None if row is None else row.response

    def cache_entry(self, key: str) -> tuple[str, Any, datetime] | None:
        """``(provider, response, written at)`` of a cached answer, for lifetimes."""
        with self._reading() as conn:
            row = conn.execute(
                select(
                    response_cache.c.provider,
                    response_cache.c.response,
                    response_cache.c.created_at,
                ).where(response_cache.c.key == key)
            ).first()
        if row is None:
            return None
        return row.provider, row.response, aware(row.created_at)

    def cache_entries(self, keys: Sequence[str]) -> dict[str, tuple[str, Any, datetime]]:
        """:meth:`cache_entry` of many keys, in one query per 500 of them."""
        c = response_cache.c
        found: dict[str, tuple[str, Any, datetime]] = {}
        unique = list(dict.fromkeys(keys))
        with self._reading() as conn:
            for start in range(0, len(unique), _KEYS_PER_QUERY):
                part = unique[start : start + _KEYS_PER_QUERY]
                query = select(c.key, c.provider, c.response, c.created_at).where(c.key.in_(part))
                for row in conn.execute(query):
                    found[row.key] = (row.provider, row.response, aware(row.created_at))
        return found

    def prune_cache(
        self,
        default: timedelta,
        lifetimes: Mapping[str, timedelta] | None = None,
        *,
        now: datetime | None = None,
    ) -> int:
        """Delete cached answers older than their provider's lifetime; returns how many."""
        now = now or utcnow()
        named = dict(lifetimes or {})
        deleted = 0
        with self.engine.begin() as conn:
            for provider, lifetime in named.items():
                deleted += conn.execute(
                    delete(response_cache).where(
                        and_(
                            response_cache.c.provider == provider,
                            response_cache.c.created_at < now - lifetime,
                        )
                    )
                ).rowcount
            others = delete(response_cache).where(response_cache.c.created_at < now - default)
            if named:
                others = others.where(response_cache.c.provider.not_in(list(named)))
            deleted += conn.execute(others).rowcount
        return deleted

    def cache_put(self, key: str, provider: str, response: Any) -> None:
        stmt = self._insert(response_cache).values(
            key=key, provider=provider, response=response, created_at=utcnow()
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["key"],
            set_={"response": stmt.excluded.response, "created_at": stmt.excluded.created_at},
        )
        with self.engine.begin() as conn:
            conn.execute(stmt)
