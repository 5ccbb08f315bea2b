"""What a shard's nodes share: one HTTP client, the response cache, the budget, limits.

Built once per shard (per Dagster step), never per row: connection pools and
rate limiters only help when every row goes through the same ones.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from lead_pipeline.engine.options import RunOptions
from lead_pipeline.engine.selection import Shard
from lead_pipeline.providers.budget import Budget
from lead_pipeline.providers.redact import scrub
from lead_pipeline.store import LeadStore


@dataclass
class Services:
    store: LeadStore
    options: RunOptions
    shard: Shard
    http: httpx.AsyncClient
    budget: Budget
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def cache(self) -> LeadStore:
        """The response cache lives in the lead store, shared by every process and run."""
        return self.store

    @property
    def rate_share(self) -> float:
        """This shard's fraction of a provider's run-wide rate limit."""
        return 1.0 / max(self.shard.count, 1)

    def redact(self, text: str) -> str:
        return scrub(text)


@asynccontextmanager
async def open_services(
    store: LeadStore, options: RunOptions, shard: Shard
) -> AsyncIterator[Services]:
    limits = httpx.Limits(
        max_connections=max(shard.slots * 2, 10), max_keepalive_connections=shard.slots
    )
    async with httpx.AsyncClient(limits=limits, follow_redirects=False) as client:
        budget_share = None if options.max_cost is None else options.max_cost / max(shard.count, 1)
        yield Services(
            store=store, options=options, shard=shard, http=client, budget=Budget(budget_share)
        )
