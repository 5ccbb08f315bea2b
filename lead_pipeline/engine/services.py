"""What a shard's nodes share: one provider session (HTTP clients, per-provider
rate limits, the response cache, the budget) and the store.

Built once per shard (per Dagster step), never per row: connection pools and
rate limiters only help when every row goes through the same ones. A provider's
rate and its Retry-After pauses are shared through the lead store by every shard
of every run (``store/pace.py``); its cap on requests in flight is split evenly
across the run's shards. The run's cost cap is one ledger in the lead store
(``store/ledger.py``), keyed by the run (the Dagster run id), that every workflow,
shard and process of the run reserves against.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from lead_pipeline.engine.options import RunOptions
from lead_pipeline.engine.selection import Shard
from lead_pipeline.providers import Budget, ProviderSession, scrub
from lead_pipeline.providers.budget import to_nanos
from lead_pipeline.providers.cache import CacheLifetimes, CacheView
from lead_pipeline.settings import Settings
from lead_pipeline.store import LeadStore
from lead_pipeline.store.ledger import StoreLedger
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


def run_budget(store: LeadStore, options: RunOptions, shard: Shard, run_key: str | None) -> Budget:
    """The budget of ``run_key``'s shards: its ledger in the store when the run has a cap.

    Without a ``run_key`` (a script or benchmark running shards itself, outside
    Dagster) the cap is split evenly across the shards, each keeping its part in
    memory. A run without a cap reserves nothing anywhere.
    """
    if options.max_cost is None:
        return Budget()
    if run_key is None:
        return Budget(options.max_cost / max(shard.count, 1))
    cap = to_nanos(options.max_cost, "max_cost")
    return Budget(options.max_cost, ledger=StoreLedger(store.run_ledgers, run_key, cap))


@asynccontextmanager
async def open_services(
    store: LeadStore,
    options: RunOptions,
    shard: Shard,
    config: Settings,
    run_key: str | None = None,
) -> AsyncIterator[Services]:
    """The shard's services, configured from ``config`` (the caller's settings);
    ``run_key`` names the run whose cost cap the shard shares (see :func:`run_budget`)."""
    share = 1.0 / max(shard.count, 1)
    budget = await asyncio.to_thread(run_budget, store, options, shard, run_key)
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
