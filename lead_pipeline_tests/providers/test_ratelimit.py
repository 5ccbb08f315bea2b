"""Client-side pacing: requests per second, bursts and shared pauses."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from lead_pipeline.providers import Limit, ProviderSession, RateLimiter, web_search
from lead_pipeline.store import LeadStore
from lead_pipeline.store.pace import StorePace
from lead_pipeline_tests.providers.conftest import FAST_RETRY
from lead_pipeline_tests.servers import SerperServer


def test_reservations_are_spaced_by_the_rate() -> None:
    limiter = RateLimiter(Limit(requests_per_second=10, max_in_flight=1))
    waits = [limiter._reserve() for _ in range(5)]
    for i, wait in enumerate(waits):
        assert wait == pytest.approx(i * 0.1, abs=0.01)


def test_burst_lets_the_first_requests_through_at_once() -> None:
    limiter = RateLimiter(Limit(requests_per_second=10, max_in_flight=1, burst=3))
    waits = [limiter._reserve() for _ in range(5)]
    assert waits[:3] == pytest.approx([0, 0, 0], abs=0.01)
    assert waits[3] == pytest.approx(0.1, abs=0.01)


def test_pause_holds_everyone_and_none_means_unpaced() -> None:
    limiter = RateLimiter(Limit(requests_per_second=None))
    assert limiter._reserve() == pytest.approx(0, abs=0.01)
    limiter.pause(2.0)
    assert limiter._reserve() == pytest.approx(2.0, abs=0.05)


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError):
        Limit(requests_per_second=0)
    with pytest.raises(ValueError):
        Limit(max_in_flight=0)


async def test_server_sees_the_pace(monkeypatch: pytest.MonkeyPatch) -> None:
    with SerperServer() as serper:
        for name, value in serper.env().items():
            monkeypatch.setenv(name, value)
        async with ProviderSession(
            retry=FAST_RETRY, limits={"serper": Limit(requests_per_second=10, max_in_flight=5)}
        ) as s:
            await asyncio.gather(*(web_search(f"q{i}", session=s) for i in range(5)))
        arrivals = sorted(r.at for r in serper.requests)
    # Five requests at 10/s span at least 0.4 s (a lower bound: pacing can only delay).
    assert arrivals[-1] - arrivals[0] >= 0.4 - 0.05


def _paced_burst(url: str, requests: int, rate: float) -> list[float]:
    """``requests`` through a limiter of its own (its own engine and event loop), as a
    shard on another worker has; returns when each was let through (wall clock)."""
    store = LeadStore(url)
    limiter = RateLimiter(
        Limit(requests_per_second=rate, max_in_flight=4), StorePace(store.engine), "serper"
    )

    async def one() -> float:
        async with limiter.slot():
            return time.time()

    async def burst() -> list[float]:
        return list(await asyncio.gather(*(one() for _ in range(requests))))

    try:
        return asyncio.run(burst())
    finally:
        store.dispose()


def test_shards_on_other_processes_share_one_pace(store: LeadStore) -> None:
    """Two limiters of 20/s on one store: 40 requests take 2 s together, not 1 s each."""
    began = time.time()
    with ThreadPoolExecutor(2) as pool:
        runs = [pool.submit(_paced_burst, store.url, 20, 20.0) for _ in range(2)]
        times = sorted(t for run in runs for t in run.result())
    # Lower bounds only (pacing can only delay): the k-th request of both goes no
    # earlier than k intervals after the start. Split statically, 40 take ~0.95 s.
    assert all(at - began >= k / 20 - 0.05 for k, at in enumerate(times))


def test_a_retry_after_pause_holds_every_process(store: LeadStore) -> None:
    mine, theirs = StorePace(store.engine), StorePace(LeadStore(store.url).engine)
    mine.pause("openai", 2.0)
    assert theirs.reserve("openai", 0.1, 1) >= 1.5
    assert theirs.reserve("serper", 0.1, 1) < 0.5  # other providers are not held


def test_the_shared_pace_allows_a_burst(store: LeadStore) -> None:
    pace = StorePace(store.engine)
    waits = [pace.reserve("brave", 1.0, 3) for _ in range(4)]
    assert max(waits[:3]) < 0.5 and waits[3] >= 0.5
