"""Everything the providers share during one run in one process.

A node calls providers many times; the session hands them one HTTP client (so
connections are reused) and one :class:`CallPolicy` per provider (so a provider's
pace, cache and budget are common to all rows of the run in this process).
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, ParamSpec, TypeVar, cast

import httpx2

from lead_pipeline.providers.answer import answer_limit
from lead_pipeline.providers.budget import Budget
from lead_pipeline.providers.cache import ResponseCache
from lead_pipeline.providers.cost import PriceTable
from lead_pipeline.providers.http import Timeouts, make_client, tls_context
from lead_pipeline.providers.policy import CallPolicy
from lead_pipeline.providers.ratelimit import Limit, SharedPace
from lead_pipeline.providers.retry import RetryPolicy
from lead_pipeline.settings import Settings, get_settings

# Pools of 16 connections, 16 pools: up to 256 requests in flight without one
# large pool's per-request scan (see ``ProviderSession.client``).
POOL_CONNECTIONS = 16
POOL_COUNT = 16

# Without configured limits a provider is paced only by the run's ``parallel``
# and by its own 429 answers, which the retry policy honours.
UNPACED = Limit(requests_per_second=None, max_in_flight=10_000)


def configured_limits(config: Settings, share: float = 1.0) -> dict[str, Limit]:
    """Per-provider limits from ``LEAD_PIPELINE_RATE_LIMITS``; ``max_in_flight`` scaled to
    this shard's ``share``. The rate is the provider's whole rate: shards share one pace."""
    return {
        provider: Limit(
            requests_per_second=spec.requests_per_second,
            max_in_flight=max(1, int(spec.max_in_flight * share)),
            burst=spec.burst,
        )
        for provider, spec in config.rate_limits.items()
    }


def configured_retry(config: Settings) -> RetryPolicy | None:
    """Retry policy from ``LEAD_PIPELINE_RETRY``, e.g. ``{"max_attempts": 2, "base_delay": 0.1}``.

    Unset, the providers' defaults apply. Fewer, shorter retries suit an
    impatient interactive run or a test.
    """
    retry = config.retry
    return None if retry is None else RetryPolicy(**retry.model_dump(exclude_unset=True))


def configured_timeouts(config: Settings) -> Timeouts | None:
    """Per-request timeouts from ``LEAD_PIPELINE_TIMEOUTS``, e.g. ``{"total": 10, "read": 10}``."""
    timeouts = config.timeouts
    return None if timeouts is None else Timeouts(**timeouts.model_dump(exclude_unset=True))


class ProviderSession:
    """Per-run provider state. Use ``async with`` (or ``await aclose()``) inside one event loop.

    ``limits`` maps a provider name ("openai", "anthropic", "serper", "brave",
    "fetch") to its :class:`Limit`; others get ``default_limit``. Policies persist
    for the session's life, so the pace holds across rows. ``verify`` (a CA bundle
    path or ``ssl.SSLContext``) applies to both the API and the website client.
    ``pace`` shares each rate-limited provider's pace with every other session
    using it (other shards, other machines). Build one with :meth:`configured`.
    """

    def __init__(
        self,
        *,
        cache: ResponseCache | None = None,
        budget: Budget | None = None,
        prices: PriceTable | None = None,
        limits: Mapping[str, Limit] | None = None,
        default_limit: Limit | None = None,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
        client: httpx2.AsyncClient | None = None,
        verify: ssl.SSLContext | str | bool = True,
        pace: SharedPace | None = None,
        settings: Settings | None = None,
    ) -> None:
        self._settings = settings
        self.cache = cache
        self.budget = budget if budget is not None else Budget()
        self.prices = prices if prices is not None else PriceTable()
        self.limits = dict(limits or {})
        self.default_limit = default_limit or Limit()
        self.retry = retry or RetryPolicy()
        self.timeouts = timeouts or Timeouts()
        self.verify = verify
        self.pace = pace
        self._clients: list[httpx2.AsyncClient] = [client] if client is not None else []
        self._owns_client = client is None
        self._turn = 0
        self._policies: dict[str, CallPolicy] = {}
        self._fetch_client: httpx2.AsyncClient | None = None

    @classmethod
    def configured(
        cls,
        config: Settings,
        *,
        share: float = 1.0,
        defaults: Mapping[str, Limit] | None = None,
        cache: ResponseCache | None = None,
        budget: Budget | None = None,
        pace: SharedPace | None = None,
    ) -> ProviderSession:
        """The one way to open a session for real calls: pacing, retries, timeouts and
        prices from ``config``, so a run's shard, a sync and a one-off call behave alike.

        ``defaults`` are a caller's own limits for providers the settings leave
        unpaced (HubSpot's documented rate); ``share`` is this shard's part of each
        provider's ``max_in_flight``.
        """
        return cls(
            cache=cache,
            budget=budget,
            prices=PriceTable(config.prices),
            limits={**(defaults or {}), **configured_limits(config, share)},
            default_limit=UNPACED,
            retry=configured_retry(config),
            timeouts=configured_timeouts(config),
            pace=pace,
            settings=config,
        )

    @property
    def settings(self) -> Settings:
        """What the calls in this session read keys, endpoints, models and the URL guard
        from: the settings it was configured with; a session built by hand (a test, a
        script) reads the environment's at each call."""
        return self._settings if self._settings is not None else get_settings()

    def answer_limit(self, provider: str) -> int:
        """The largest answer read from ``provider``, in bytes after decompression:
        ``LEAD_PIPELINE_ANSWER_LIMITS``, else the provider kind's documented default."""
        return answer_limit(provider, self.settings.answer_limits)

    def policy(self, provider: str) -> CallPolicy:
        policy = self._policies.get(provider)
        if policy is None:
            policy = CallPolicy(
                provider,
                limit=self.limits.get(provider, self.default_limit),
                retry=self.retry,
                cache=self.cache,
                budget=self.budget,
                prices=self.prices,
                pace=self.pace,
            )
            self._policies[provider] = policy
        return policy

    @property
    def client(self) -> httpx2.AsyncClient:
        """An API client, created on first use in the running event loop.

        Calls rotate over a few small connection pools rather than one large
        one: the pool looks at every pooled connection on every request, so one
        pool of N connections costs O(N) CPU per request. (httpx2's pool no longer
        polls each idle socket there, as httpx's did with a ``getpeername`` and a
        ``poll`` each: that check was a tenth of the engine's CPU per ``llm`` row.)
        """
        if not self._clients:
            # One TLS context for all pools: loading the CA bundle costs ~25 ms each time.
            verify = tls_context(self.verify)
            self._clients = [
                make_client(self.timeouts, verify=verify, max_connections=POOL_CONNECTIONS)
                for _ in range(POOL_COUNT)
            ]
        self._turn = (self._turn + 1) % len(self._clients)
        return self._clients[self._turn]

    @property
    def fetch_client(self) -> httpx2.AsyncClient:
        """The client for lead websites: no keep-alive and no proxy from the environment.

        The fetcher connects to an IP it checked, naming the host in ``Host`` and
        SNI; reusing a pooled connection keyed by that IP for another host, or
        letting a proxy resolve the name again, would undo the check.
        """
        if self._fetch_client is None:
            self._fetch_client = make_client(
                self.timeouts, keepalive=False, trust_env=False, verify=self.verify
            )
        return self._fetch_client

    async def aclose(self) -> None:
        if self._owns_client:
            for client in self._clients:
                await client.aclose()
        self._clients = []
        if self._fetch_client is not None:
            await self._fetch_client.aclose()
            self._fetch_client = None

    async def __aenter__(self) -> ProviderSession:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


P = ParamSpec("P")
R = TypeVar("R")


def opens_session(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """For a provider call with a ``session=`` argument: called without one, it runs in a
    temporary session, configured like a run's (:meth:`ProviderSession.configured`) and
    closed when it returns (a script, a one-off call); within a run the shard's session
    is passed, so pools, limits and the cache are shared."""

    @functools.wraps(fn)
    async def call(*args: Any, session: ProviderSession | None = None, **kwargs: Any) -> R:
        if session is not None:
            return await fn(*args, session=session, **kwargs)  # type: ignore[arg-type]
        async with ProviderSession.configured(get_settings()) as temporary:
            return await fn(*args, session=temporary, **kwargs)  # type: ignore[arg-type]

    return cast(Callable[P, Awaitable[R]], call)
