"""One provider's call discipline: cache first, budget next, then the paced, retried call."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from lead_pipeline.providers.budget import Budget
from lead_pipeline.providers.cache import ResponseCache, cache_key
from lead_pipeline.providers.calls import call_record, finish
from lead_pipeline.providers.cost import PriceTable, Usage
from lead_pipeline.providers.errors import ProviderError
from lead_pipeline.providers.ratelimit import Limit, RateLimiter, SharedPace
from lead_pipeline.providers.redact import get_logger
from lead_pipeline.providers.retry import RetryPolicy

CACHE_FORMAT = 1


@dataclass(frozen=True)
class ProviderResponse:
    """A provider's answer. ``cost`` is what this call spent (0 when ``cached``)."""

    data: Any
    cost: float
    provider: str
    cached: bool
    usage: Usage | None = None
    model: str | None = None


@dataclass(frozen=True)
class Paid:
    """What a live call produced, before the policy caches and charges it."""

    data: Any
    cost: float
    usage: Usage | None = None
    model: str | None = None


@dataclass
class CallPolicy:
    """Rate limit, retry, cache, price and budget for one provider in one process."""

    provider: str
    limit: Limit = field(default_factory=Limit)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    cache: ResponseCache | None = None
    budget: Budget | None = None
    prices: PriceTable = field(default_factory=PriceTable)
    pace: SharedPace | None = None  # the pace shared with other processes, if any
    limiter: RateLimiter = field(init=False)

    def __post_init__(self) -> None:
        self.limiter = RateLimiter(self.limit, self.pace, self.provider)

    async def _cache_get(self, key: str) -> Any | None:
        if self.cache is None:
            return None
        try:
            entry = await asyncio.to_thread(self.cache.cache_get, key)
        except Exception as exc:  # a broken cache must cost money, not the row
            get_logger().warning(
                "%s: cache read failed, calling the provider: %s", self.provider, exc
            )
            return None
        if isinstance(entry, dict) and entry.get("format") == CACHE_FORMAT:
            return entry
        return None

    async def _cache_put(self, key: str, paid: Paid) -> None:
        if self.cache is None:
            return
        entry = {
            "format": CACHE_FORMAT,
            "data": paid.data,
            "usage": paid.usage.as_dict() if paid.usage else None,
            "model": paid.model,
        }
        try:
            await asyncio.to_thread(self.cache.cache_put, key, self.provider, entry)
        except Exception as exc:
            get_logger().warning("%s: cache write failed: %s", self.provider, exc)

    async def run(
        self, request: Any, call: Callable[[], Awaitable[Paid]], *, use_cache: bool = True
    ) -> ProviderResponse:
        """Answer ``request`` from the cache, or check the budget, ``call`` and store.

        ``request`` is the normalised question (never a key); only successful
        answers reach the cache, and a failed call's ``cost`` is still charged.
        """
        with call_record(self.provider) as record:  # for the row trace
            response = await self._run(request, call, use_cache=use_cache)
            finish(record, cached=response.cached, cost=response.cost, usage=response.usage)
            return response

    async def _run(
        self, request: Any, call: Callable[[], Awaitable[Paid]], *, use_cache: bool
    ) -> ProviderResponse:
        key = cache_key(self.provider, request)
        if use_cache and (entry := await self._cache_get(key)) is not None:
            usage = Usage(**entry["usage"]) if entry.get("usage") else None
            return ProviderResponse(
                entry["data"], 0.0, self.provider, True, usage, entry.get("model")
            )
        if self.budget is not None:
            self.budget.check()
        try:
            paid = await call()
        except ProviderError as exc:
            if self.budget is not None and exc.cost:
                self.budget.charge(exc.cost)
            raise
        if self.budget is not None:
            self.budget.charge(paid.cost)
        if use_cache:
            await self._cache_put(key, paid)
        return ProviderResponse(paid.data, paid.cost, self.provider, False, paid.usage, paid.model)
