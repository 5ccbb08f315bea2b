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
from typing import Any

from lead_pipeline import settings
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
from lead_pipeline.store import LeadStore

# Without configured limits a provider is paced only by the run's ``parallel``
# and by its own 429 answers, which the retry policy honours.
UNPACED = Limit(requests_per_second=None, max_in_flight=10_000)


RETRY_ENV = "LEAD_PIPELINE_RETRY"
TIMEOUTS_ENV = "LEAD_PIPELINE_TIMEOUTS"


class LimitsError(ValueError):
    """A provider setting (``LEAD_PIPELINE_RATE_LIMITS``, ``_RETRY``, ``_TIMEOUTS``) is not
    the JSON it should be."""


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


def _json_object(name: str) -> dict[str, Any] | None:
    raw = settings.env(name)
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise LimitsError(f"{name}: {exc}") from None
    if not isinstance(data, dict):
        raise LimitsError(f"{name}: expected a JSON object, got {raw[:60]!r}")
    return data


def configured_retry() -> RetryPolicy | None:
    """Retry policy from ``LEAD_PIPELINE_RETRY``, e.g. ``{"max_attempts": 2, "base_delay": 0.1}``.

    The fields are those of :class:`RetryPolicy`; unset, the providers' defaults
    apply. Fewer, shorter retries suit an impatient interactive run or a test.
    """
    data = _json_object(RETRY_ENV)
    if data is None:
        return None
    if not isinstance(data.get("max_attempts", 1), int):
        raise LimitsError(f"{RETRY_ENV}: max_attempts must be a whole number")
    try:
        return RetryPolicy(**data)
    except (TypeError, ValueError) as exc:
        raise LimitsError(f"{RETRY_ENV}: {exc}") from None


def configured_timeouts() -> Timeouts | None:
    """Per-request timeouts from ``LEAD_PIPELINE_TIMEOUTS``, e.g. ``{"total": 10, "read": 10}``.

    The fields (seconds) are those of :class:`Timeouts`; unset, its defaults apply.
    """
    data = _json_object(TIMEOUTS_ENV)
    if data is None:
        return None
    try:
        timeouts = Timeouts(**data)
    except TypeError as exc:
        raise LimitsError(f"{TIMEOUTS_ENV}: {exc}") from None
    if not all(isinstance(v, int | float) and v > 0 for v in vars(timeouts).values()):
        raise LimitsError(f"{TIMEOUTS_ENV}: every timeout must be a positive number of seconds")
    return timeouts


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
        retry=configured_retry(),
        timeouts=configured_timeouts(),
    )
    async with session:
        yield Services(store=store, options=options, shard=shard, session=session)
