"""The response cache contract and its key, so equal questions are paid for once.

Answers do not keep forever: each provider's entries have a lifetime (30 days
unless ``LEAD_PIPELINE_CACHE_TTL`` says otherwise), after which they are asked
again and, at the end of a run, deleted. ``--refresh`` bypasses the cache for a
run (every question goes to the provider, and the fresh answers replace the
old ones); ``--force`` only re-runs rows, and identical questions are still
answered from the cache for free.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, runtime_checkable

DEFAULT_LIFETIME = timedelta(days=30)


@runtime_checkable
class ResponseCache(Protocol):
    """What a cache must offer; ``LeadStore`` satisfies it (a DB table shared by runs)."""

    def cache_get(self, key: str) -> Any | None: ...

    def cache_put(self, key: str, provider: str, response: Any) -> None: ...


def normalise(request: Any) -> str:
    """Canonical JSON of a request: key order and whitespace never change the key."""
    return json.dumps(
        request, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )


def cache_key(provider: str, request: Any) -> str:
    """sha256 hex of the provider and its normalised request (never a credential)."""
    return hashlib.sha256(f"{provider}\n{normalise(request)}".encode()).hexdigest()


class MemoryCache:
    """An in-process cache for tests and one-off calls."""

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self._lock = threading.Lock()
        self._clock = clock or _utcnow
        self.entries: dict[str, tuple[str, Any]] = {}
        self.written: dict[str, datetime] = {}

    def cache_get(self, key: str) -> Any | None:
        with self._lock:
            entry = self.entries.get(key)
        return None if entry is None else entry[1]

    def cache_entry(self, key: str) -> tuple[str, Any, datetime] | None:
        with self._lock:
            entry = self.entries.get(key)
            return None if entry is None else (entry[0], entry[1], self.written[key])

    def cache_entries(self, keys: Sequence[str]) -> dict[str, tuple[str, Any, datetime]]:
        with self._lock:
            return {
                k: (self.entries[k][0], self.entries[k][1], self.written[k])
                for k in keys
                if k in self.entries
            }

    def cache_put(self, key: str, provider: str, response: Any) -> None:
        with self._lock:
            self.entries[key] = (provider, response)
            self.written[key] = self._clock()


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class CacheLifetimes:
    """How long each provider's answers are reused; ``default`` for providers not named."""

    default: timedelta = DEFAULT_LIFETIME
    providers: Mapping[str, timedelta] = field(default_factory=dict)

    @classmethod
    def from_setting(cls, setting: Mapping[str, timedelta]) -> CacheLifetimes:
        named = {k: v for k, v in setting.items() if k != "default"}
        return cls(default=setting.get("default", DEFAULT_LIFETIME), providers=named)

    def of(self, provider: str) -> timedelta:
        return self.providers.get(provider, self.default)


@runtime_checkable
class TimedCache(Protocol):
    """A cache that knows when and for which provider each entry was written."""

    def cache_entry(self, key: str) -> tuple[str, Any, datetime] | None: ...

    def cache_entries(self, keys: Sequence[str]) -> dict[str, tuple[str, Any, datetime]]:
        """:meth:`cache_entry` of many keys at once (those it holds)."""
        ...

    def cache_put(self, key: str, provider: str, response: Any) -> None: ...


class CacheView:
    """The cache as one run uses it: expired entries are misses; ``refresh`` misses always.

    Writes go through either way, so a refreshed answer replaces the old one.
    """

    def __init__(
        self,
        cache: TimedCache,
        lifetimes: CacheLifetimes | None = None,
        *,
        refresh: bool = False,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.cache = cache
        self.lifetimes = lifetimes or CacheLifetimes()
        self.refresh = refresh
        self.clock = clock

    def cache_get(self, key: str) -> Any | None:
        if self.refresh:
            return None
        entry = self.cache.cache_entry(key)
        return None if entry is None else self._fresh(entry)

    def cache_get_many(self, keys: Sequence[str]) -> dict[str, Any]:
        """:meth:`cache_get` of many keys in one read: the answers found and not expired."""
        if self.refresh or not keys:
            return {}
        found = {}
        for key, entry in self.cache.cache_entries(keys).items():
            response = self._fresh(entry)
            if response is not None:
                found[key] = response
        return found

    def _fresh(self, entry: tuple[str, Any, datetime]) -> Any | None:
        """The entry's response, or None once its provider's lifetime has passed."""
        provider, response, created_at = entry
        if created_at.tzinfo is None:
            created_at = created_at.replace(tzinfo=UTC)
        if created_at < self.clock() - self.lifetimes.of(provider):
            return None
        return response

    def cache_put(self, key: str, provider: str, response: Any) -> None:
        self.cache.cache_put(key, provider, response)


def get_many(cache: ResponseCache, keys: Sequence[str]) -> dict[str, Any]:
    """The answers ``cache`` holds for ``keys``: in one read where it can
    (``cache_get_many``), else one :meth:`~ResponseCache.cache_get` per key."""
    many = getattr(cache, "cache_get_many", None)
    if many is not None:
        return dict(many(keys))
    found = {}
    for key in keys:
        response = cache.cache_get(key)
        if response is not None:
            found[key] = response
    return found


class CoalescedReads:
    """Cache reads of rows in flight gathered into one read: each :meth:`get` waits for the
    next read, which takes every key asked since the last one began.

    The batch lane asks the cache once per row before the row's question joins a batch;
    one query and one thread hop per row made those lookups most of a submission's time
    (issue 24). With ``parallel`` rows in flight a read serves up to that many rows.
    """

    def __init__(self, read: Callable[[list[str]], Mapping[str, Any]]) -> None:
        self._read = read  # blocking: run in a thread
        self._asked: dict[str, list[asyncio.Future[Any]]] = {}
        self._reader: asyncio.Task[None] | None = None

    async def get(self, key: str) -> Any | None:
        """The cached answer for ``key``, or None; a failed read is None (a miss)."""
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._asked.setdefault(key, []).append(waiter)
        if self._reader is None:
            self._reader = asyncio.create_task(self._read_all())
        return await waiter

    async def _read_all(self) -> None:
        asked: dict[str, list[asyncio.Future[Any]]] = {}
        try:
            while self._asked:
                await asyncio.sleep(0)  # the other rows in flight ask theirs first
                asked, self._asked = self._asked, {}
                try:
                    found = await asyncio.to_thread(self._read, list(asked))
                except Exception:  # the caller's read logs its own failure: all misses
                    found = {}
                for key, waiters in asked.items():
                    for waiter in waiters:
                        if not waiter.done():
                            waiter.set_result(found.get(key))
        finally:
            self._reader = None
            for waiters in (*asked.values(), *self._asked.values()):  # cancelled mid-read
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(None)
            self._asked = {}
