"""Client-side rate limiting: requests per second and requests in flight.

A provider's pace (requests per second and its Retry-After pauses) is one for
the whole deployment when a :class:`SharedPace` is given: every shard of every
run, on every machine, books its requests in the same place (the lead store's
database; ``store/pace.py``), so the limit is never split between shards. The
cap on requests in flight is the caller's share, per process.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Limit:
    """``requests_per_second`` None means no pacing; ``burst`` requests may go at once."""

    requests_per_second: float | None = 5.0
    max_in_flight: int = 4
    burst: int = 1

    def __post_init__(self) -> None:
        if self.requests_per_second is not None and self.requests_per_second <= 0:
            raise ValueError("requests_per_second must be positive or None")
        if self.max_in_flight < 1 or self.burst < 1:
            raise ValueError("max_in_flight and burst must be at least 1")


class SharedPace(Protocol):
    """A pace kept outside this process, by provider name."""

    def reserve(self, provider: str, interval: float, burst: int) -> float:
        """Book one request; the seconds to wait before sending it."""
        ...

    def pause(self, provider: str, seconds: float) -> None:
        """Hold everyone's requests for ``seconds`` from now."""
        ...


class RateLimiter:
    """A token bucket plus a concurrency cap, usable from any event loop.

    The bucket is kept as a "theoretical arrival time" (GCRA): reserving a slot is
    a few arithmetic operations under a thread lock, with no awaits, so callers on
    different loops or threads share one pace. Semaphores are per event loop
    because asyncio primitives cannot cross loops.
    """

    def __init__(self, limit: Limit, shared: SharedPace | None = None, provider: str = "") -> None:
        """``shared`` paces ``provider`` with everyone else using it (only when it has a rate)."""
        self.limit = limit
        self.shared = shared if limit.requests_per_second is not None else None
        self.provider = provider
        self._lock = threading.Lock()
        self._tat = 0.0  # when the bucket is next empty, monotonic seconds
        self._paused_until = 0.0
        self._semaphores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]
        self._semaphores = weakref.WeakKeyDictionary()

    def pause(self, seconds: float) -> None:
        """Hold every caller back for ``seconds``: the provider said it is saturated."""
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + max(0.0, seconds))
        if self.shared is not None:
            self.shared.pause(self.provider, seconds)

    def _reserve(self) -> float:
        """Seconds to wait before this request may go; books its place in the pace."""
        now = time.monotonic()
        with self._lock:
            start = max(now, self._paused_until)
            rate = self.limit.requests_per_second
            if rate is None:
                return start - now
            interval = 1.0 / rate
            tat = max(self._tat, start)
            allowed_at = tat - (self.limit.burst - 1) * interval
            self._tat = tat + interval
            return max(allowed_at, start) - now

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        with self._lock:
            semaphore = self._semaphores.get(loop)
            if semaphore is None:
                semaphore = asyncio.Semaphore(self.limit.max_in_flight)
                self._semaphores[loop] = semaphore
            return semaphore

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Wait for a place in flight and for the pace, then hold the place."""
        async with self._semaphore():
            if self.shared is not None and self.limit.requests_per_second is not None:
                wait = await asyncio.to_thread(
                    self.shared.reserve,
                    self.provider,
                    1.0 / self.limit.requests_per_second,
                    self.limit.burst,
                )
            else:
                wait = self._reserve()
            if wait > 0:
                await asyncio.sleep(wait)
            yield
