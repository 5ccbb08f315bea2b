"""One provider's call discipline: cache first, then a reservation against the run's cap,
then the paced, retried call, then the reservation settled at the call's real cost.

Every paid call of every provider goes through :meth:`CallPolicy.run`, so this is
where money is counted: the reservation (``budget.py``) keeps the cap, and each
settled cost is added to the current node's meter, so a node's result carries what
its calls cost whatever happens to the row afterwards.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from lead_pipeline.providers.budget import (
    Budget,
    InvalidCost,
    Reservation,
    record_spend,
    to_nanos,
    to_usd,
)
from lead_pipeline.providers.cache import CoalescedReads, ResponseCache, cache_key, get_many
from lead_pipeline.providers.calls import call_record, finish
from lead_pipeline.providers.cost import PriceTable, Usage
from lead_pipeline.providers.errors import BudgetHeld, InvalidAnswer, ProviderError
from lead_pipeline.providers.ratelimit import Limit, RateLimiter, SharedPace
from lead_pipeline.providers.redact import get_logger
from lead_pipeline.providers.retry import RetryPolicy

CACHE_FORMAT = 1
# How often a call held by others' reservations looks at the ledger again (seconds).
HELD_POLL_S = 0.05
# The most a call can cost in USD, or a function working it out (an LLM question's price
# at its token limit loads the price tables: only worth it when a cap needs it).
Price = float | Callable[[], float]


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
    _reads: CoalescedReads | None = field(default=None, init=False, repr=False)

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

    async def cached(self, request: Any) -> Any | None:
        """The cached answer's data for ``request``, if any: what :meth:`run` would answer
        without a call (the batch lane asks before joining a batch). Rows in flight asking
        at once are read together (:class:`CoalescedReads`). A hit is recorded for the row
        trace as :meth:`run` records one."""
        if self.cache is None:
            return None
        if self._reads is None:
            self._reads = CoalescedReads(self._cache_get_many)
        entry = await self._reads.get(cache_key(self.provider, request))
        if entry is None:
            return None
        with call_record(self.provider) as record:
            usage = Usage(**entry["usage"]) if entry.get("usage") else None
            finish(record, cached=True, cost=0.0, usage=usage)
        return entry["data"]

    def _cache_get_many(self, keys: list[str]) -> dict[str, Any]:
        """Blocking: the usable entries of ``keys`` (a broken cache is all misses)."""
        assert self.cache is not None
        try:
            found = get_many(self.cache, keys)
        except Exception as exc:  # a broken cache must cost money, not the row
            get_logger().warning(
                "%s: cache read failed, calling the provider: %s", self.provider, exc
            )
            return {}
        return {
            key: entry
            for key, entry in found.items()
            if isinstance(entry, dict) and entry.get("format") == CACHE_FORMAT
        }

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

    async def _reserve(self, reservation: Reservation, price: Price) -> None:
        if self.budget is None or self.budget.max_cost is None:
            return  # no cap: nothing to reserve against (the meter still counts the cost)
        if callable(price):
            price = price()
        budget, moved, last = self.budget, time.monotonic(), None
        while True:
            try:
                if budget.blocking and price:
                    await asyncio.to_thread(budget.reserve, reservation, price)
                else:
                    budget.reserve(reservation, price)
                return
            except BudgetHeld as held:
                # Others in flight hold the room this call needs: wait for them to settle
                # (a row is not failed as if the cap were spent), while the ledger moves.
                if held.state != last:
                    if last is None:
                        budget.waited()
                    moved, last = time.monotonic(), held.state
                elif time.monotonic() - moved > budget.hold_s:
                    why = f" (calls in flight did not settle in {budget.hold_s:.0f}s)"
                    budget.refuse(self.provider, price, why)
                await asyncio.sleep(HELD_POLL_S)

    async def _settle(self, reservation: Reservation, cost: float) -> tuple[float, str | None]:
        """Settle ``reservation`` at ``cost``; returns the cost counted and, when ``cost`` was
        not a finite, non-negative, bounded amount, why (it is then counted at the
        reservation: the most the call could have cost)."""
        problem = None
        try:
            to_nanos(cost, f"{self.provider}: the reported cost of a call")
        except InvalidCost as exc:
            problem, cost = str(exc), to_usd(reservation.amount)
        if self.budget is not None:
            if cost > to_usd(reservation.amount) and self.budget.max_cost is not None:
                get_logger().warning(
                    "%s: a call cost $%.6f, more than the $%.6f it reserved; counted in full",
                    self.provider,
                    cost,
                    to_usd(reservation.amount),
                )
            if self.budget.blocking and (reservation.amount or cost):
                await asyncio.to_thread(self.budget.settle, reservation, cost)
            else:  # in memory, or nothing reserved nor spent: no write to the store
                self.budget.settle(reservation, cost)
        record_spend(cost)
        return cost, problem

    async def run(
        self,
        request: Any,
        call: Callable[[Tab], Awaitable[Paid]],
        *,
        price: Price,
        use_cache: bool = True,
    ) -> ProviderResponse:
        """Answer ``request`` from the cache, or reserve ``price``, ``call`` and store.

        ``request`` is the normalised question (never a key). ``price`` is the most
        the call's first request can cost (or a function that works it out, called
        only when the run has a cap); ``call`` reserves again through its
        :class:`Tab` before any further billed request (an LLM's second attempt).
        A reservation that does not fit the run's cap raises
        :class:`BudgetExceeded` and the call is not made. Only successful answers
        reach the cache; a failed call's ``cost`` is still settled and counted.
        """
        with call_record(self.provider) as record:  # for the row trace
            response = await self._run(request, call, price=price, use_cache=use_cache)
            finish(record, cached=response.cached, cost=response.cost, usage=response.usage)
            return response

    async def _run(
        self,
        request: Any,
        call: Callable[[Tab], Awaitable[Paid]],
        *,
        price: Price,
        use_cache: bool,
    ) -> ProviderResponse:
        key = cache_key(self.provider, request)
        if use_cache and (entry := await self._cache_get(key)) is not None:
            usage = Usage(**entry["usage"]) if entry.get("usage") else None
            return ProviderResponse(
                entry["data"], 0.0, self.provider, True, usage, entry.get("model")
            )
        reservation = Reservation(self.provider)
        await self._reserve(reservation, price)
        try:
            paid = await call(Tab(self, reservation))
        except ProviderError as exc:
            exc.cost, problem = await self._settle(reservation, exc.cost)
            if problem is not None:
                exc.message = f"{exc.message} ({problem}; counted at its reservation)"
            raise
        except Exception:
            # Whether this call was billed is unknown: count the most it could have cost.
            await self._settle(reservation, to_usd(reservation.amount))
            raise
        cost, problem = await self._settle(reservation, paid.cost)
        if problem is not None:
            raise InvalidAnswer(
                f"{problem}; counted at its reservation, ${cost:.4f}",
                provider=self.provider,
                cost=cost,
            )
        if use_cache:
            await self._cache_put(key, paid)
        return ProviderResponse(paid.data, cost, self.provider, False, paid.usage, paid.model)


@dataclass(frozen=True)
class Tab:
    """The reservation of the call in progress, for a call that sends more than one
    billed request: reserve each further request's most before sending it."""

    policy: CallPolicy
    reservation: Reservation

    async def reserve(self, price: Price) -> None:
        await self.policy._reserve(self.reservation, price)
