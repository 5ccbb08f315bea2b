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
from lead_pipeline.providers import (
    Budget,
    Limit,
    ProviderSession,
    RetryPolicy,
    Timeouts,
    scrub,
)
from lead_pipeline.providers.cache import CacheLifetimes, CacheView
from lead_pipeline.settings import Settings, env_name, get_settings
from lead_pipeline.store import LeadStore
from lead_pipeline.store.pace import StorePace

# Without configured limits a provider is paced only by the run's ``parallel``
# and by its own 429 answers, which the retry policy honours.
UNPACED = Limit(requests_per_second=None, max_in_flight=10_000)


RETRY_ENV = env_name("retry")
TIMEOUTS_ENV = env_name("timeouts")


def configured_limits(share: float = 1.0, config: Settings | None = None) -> dict[str, Limit]:
    """Per-provider limits from ``LEAD_PIPELINE_RATE_LIMITS``; ``max_in_flight`` scaled to
    this shard's ``share``. The rate is the provider's whole rate: shards share one pace."""
    config = config or get_settings()
    return {
        provider: Limit(
            requests_per_second=spec.requests_per_second,
            max_in_flight=max(1, int(spec.max_in_flight * share)),
            burst=spec.burst,
        )
        for provider, spec in config.rate_limits.items()
    }


def configured_retry(config: Settings | None = None) -> RetryPolicy | None:
    """Retry policy from ``LEAD_PIPELINE_RETRY``, e.g. ``{"max_attempts": 2, "base_delay": 0.1}``.

    Unset, the providers' defaults apply. Fewer, shorter retries suit an
    impatient interactive run or a test.
    """
    retry = (config or get_settings()).retry
    return None if retry is None else RetryPolicy(**retry.model_dump(exclude_unset=True))


def configured_timeouts(config: Settings | None = None) -> Timeouts | None:
    """Per-request timeouts from ``LEAD_PIPELINE_TIMEOUTS``, e.g. ``{"total": 10, "read": 10}``."""
    timeouts = (config or get_settings()).timeouts
    return None if timeouts is None else Timeouts(**timeouts.model_dump(exclude_unset=True))


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
    config = get_settings()
    budget = Budget(None if options.max_cost is None else options.max_cost * share)
    session = ProviderSession(
        # The lead store holds the cache; the view applies lifetimes and --refresh.
        cache=CacheView(
            store, CacheLifetimes.from_setting(config.cache_ttl), refresh=options.refresh
        ),
        budget=budget,
        limits=configured_limits(share, config),
        default_limit=UNPACED,
        retry=configured_retry(config),
        timeouts=configured_timeouts(config),
        pace=StorePace(store.engine),
    )
    async with session:
        yield Services(store=store, options=options, shard=shard, session=session)
