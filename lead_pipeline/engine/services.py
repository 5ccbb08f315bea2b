"""What a shard's nodes share: one provider session (HTTP clients, per-provider
rate limits, the response cache, the budget) and the store.

Built once per shard (per Dagster step), never per row: connection pools and
rate limiters only help when every row goes through the same ones. A run's
provider limits and budget are split evenly across its shards, so the shards
of one run together stay within them without talking to each other.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from lead_pipeline import settings
from lead_pipeline.engine.options import RunOptions
from lead_pipeline.engine.selection import Shard
from lead_pipeline.providers import Budget, Limit, ProviderSession, scrub
from lead_pipeline.store import LeadStore

# Without configured limits a provider is paced only by the run's ``parallel``
# and by its own 429 answers, which the retry policy honours.
UNPACED = Limit(requests_per_second=None, max_in_flight=10_000)


class LimitsError(ValueError):
    """``LEAD_PIPELINE_RATE_LIMITS`` is not the JSON it should be."""


def configured_limits(share: float = 1.0) -> dict[str, Limit]:
    """Per-provider limits from ``LEAD_PIPELINE_RATE_LIMITS``, scaled to this shard's share.

    The variable holds JSON such as
    ``{"openai": {"requests_per_second": 5, "max_in_flight": 10}}``.
    """
    raw = settings.env("LEAD_PIPELINE_RATE_LIMITS")
    if not raw:
        return {}
    try:
        data = json.loads(raw)
        limits = {}
        for provider, spec in data.items():
            rps = spec.get("requests_per_second")
            limits[provider] = Limit(
                requests_per_second=None if rps is None else float(rps) * share,
                max_in_flight=max(1, int(int(spec.get("max_in_flight", 10_000)) * share)),
                burst=max(1, int(spec.get("burst", 1))),
            )
    except (ValueError, AttributeError, TypeError) as exc:
        raise LimitsError(f"LEAD_PIPELINE_RATE_LIMITS: {exc}") from None
    return limits


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
    store: LeadStore, options: RunOptions, shard: Shard
) -> AsyncIterator[Services]:
    share = 1.0 / max(shard.count, 1)
    budget = Budget(None if options.max_cost is None else options.max_cost * share)
    session = ProviderSession(
        cache=store,  # the lead store implements cache_get / cache_put
        budget=budget,
        limits=configured_limits(share),
        default_limit=UNPACED,
    )
    async with session:
        yield Services(store=store, options=options, shard=shard, session=session)
