"""What a shard's nodes share: one provider session (HTTP clients, per-provider
rate limits, the response cache, the budget) and the store.

Built once per shard (per Dagster step), never per row: connection pools and
rate limiters only help when every row goes through the same ones. A provider's
rate and its Retry-After pauses are shared through the lead store by every shard
of every run (``store/pace.py``); its cap on requests in flight and the run's
budget are split evenly across the run's shards.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from lead_pipeline.engine.options import RunOptions
from lead_pipeline.engine.selection import Shard
from lead_pipeline.providers import Budget, ProviderSession, scrub
from lead_pipeline.providers.cache import CacheLifetimes, CacheView
from lead_pipeline.settings import Settings
from lead_pipeline.store import LeadStore
from lead_pipeline.store.pace import StorePace


@dataclass
class Services:
    store: LeadStore
    options: RunOptions
    shard: Shard
    session: ProviderSession

    @property
    def budget(self) -> Budget:
        return self.session.budget

    def redact(self, text: str) -> str:
        return scrub(text)


@asynccontextmanager
async def open_services(
    store: LeadStore, options: RunOptions, shard: Shard, config: Settings
) -> AsyncIterator[Services]:
    """The shard's services, configured from ``config`` (the caller's settings)."""
    share = 1.0 / max(shard.count, 1)
    budget = Budget(None if options.max_cost is None else options.max_cost * share)
    session = ProviderSession.configured(
        config,
        share=share,
        # The lead store holds the cache; the view applies lifetimes and --refresh.
        cache=CacheView(
            store, CacheLifetimes.from_setting(config.cache_ttl), refresh=options.refresh
        ),
        budget=budget,
        pace=StorePace(store.engine),
    )
    async with session:
        yield Services(store=store, options=options, shard=shard, session=session)
