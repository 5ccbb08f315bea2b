"""Client-side pacing: requests per second, bursts and shared pauses."""

from __future__ import annotations

import asyncio

import pytest

from lead_pipeline.providers import Limit, ProviderSession, RateLimiter, web_search
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
