"""Retry behaviour seen from the server: what it received, how many times, and when."""

from __future__ import annotations

import asyncio
from email.utils import formatdate
from itertools import pairwise

import pytest

from lead_pipeline.providers import (
    AuthError,
    Limit,
    ProviderError,
    ProviderSession,
    ProviderUnavailable,
    RateLimited,
    RetryPolicy,
    complete_json,
    web_search,
)
from lead_pipeline_tests.providers.conftest import FAST_RETRY
from lead_pipeline_tests.servers import OpenAIServer, Reply, SerperServer

OUTPUTS = {"is_b2b": "boolean"}
PATH = "/v1/chat/completions"
# Lower bounds only: a server-side gap can be a hair shorter than the client's
# sleep because the two clocks are read at different points of the request.
SLACK = 0.05


def _gaps(server: OpenAIServer) -> list[float]:
    times = [r.at for r in server.requests]
    return [b - a for a, b in pairwise(times)]


async def test_429_retry_after_seconds_is_honoured(
    openai_server: OpenAIServer, session: ProviderSession
) -> None:
    openai_server.script(
        Reply(status=429, json={"error": {"message": "slow down"}}, headers={"Retry-After": "1"})
    )
    response = await complete_json("q", OUTPUTS, session=session)
    assert response.data == {"is_b2b": True}
    assert openai_server.count(PATH) == 2
    assert _gaps(openai_server)[0] >= 1.0 - SLACK


async def test_429_retry_after_http_date_is_honoured(
    openai_server: OpenAIServer, session: ProviderSession
) -> None:
    import time

    when = formatdate(time.time() + 2, usegmt=True)  # whole seconds: waits between 1 and 2 s
    openai_server.script(Reply(status=429, json={}, headers={"Retry-After": when}))
    await complete_json("q", OUTPUTS, session=session)
    assert openai_server.count(PATH) == 2
    assert _gaps(openai_server)[0] >= 1.0 - SLACK


async def test_429_ratelimit_reset_headers_are_honoured(
    openai_server: OpenAIServer, session: ProviderSession
) -> None:
    headers = {
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "800ms",
        "x-ratelimit-remaining-tokens": "5000",
        "x-ratelimit-reset-tokens": "30s",  # not exhausted: must not be waited for
    }
    openai_server.script(Reply(status=429, json={}, headers=headers))
    await complete_json("q", OUTPUTS, session=session)
    assert openai_server.count(PATH) == 2
    assert _gaps(openai_server)[0] >= 0.8 - SLACK


async def test_429_asking_too_long_a_wait_fails_at_once(
    openai_server: OpenAIServer, session: ProviderSession
) -> None:
    openai_server.script(Reply(status=429, json={}, headers={"Retry-After": "3600"}))
    with pytest.raises(RateLimited) as caught:
        await complete_json("q", OUTPUTS, session=session)
    assert caught.value.retry_after == 3600
    assert openai_server.count(PATH) == 1


async def test_429_forever_gives_rate_limited_after_bounded_attempts(
    openai_server: OpenAIServer, session: ProviderSession
) -> None:
    openai_server.script(*[Reply(status=429, json={}, headers={"Retry-After": "0"})] * 5)
    with pytest.raises(RateLimited):
        await complete_json("q", OUTPUTS, session=session)
    assert openai_server.count(PATH) == FAST_RETRY.max_attempts


async def test_500_is_retried_with_backoff_then_succeeds(
    openai_server: OpenAIServer, session: ProviderSession
) -> None:
    openai_server.script(Reply(status=500, json={}), Reply(status=503, json={}))
    response = await complete_json("q", OUTPUTS, session=session)
    assert response.data == {"is_b2b": True}
    assert openai_server.count(PATH) == 3


async def test_500_forever_gives_provider_unavailable(
    openai_server: OpenAIServer, session: ProviderSession
) -> None:
    openai_server.script(*[Reply(status=500, json={"error": {"message": "boom"}})] * 5)
    with pytest.raises(ProviderUnavailable, match="HTTP 500") as caught:
        await complete_json("q", OUTPUTS, session=session)
    assert caught.value.status == 500
    assert openai_server.count(PATH) == FAST_RETRY.max_attempts


async def test_max_total_wait_bounds_the_retries(openai_server: OpenAIServer) -> None:
    policy = RetryPolicy(max_attempts=10, base_delay=0.4, max_delay=0.4, max_total_wait=0.5)
    openai_server.script(*[Reply(status=500, json={})] * 10)
    async with ProviderSession(retry=policy) as s:
        with pytest.raises(ProviderUnavailable):
            await complete_json("q", OUTPUTS, session=s)
    # Each backoff is 0.2-0.4 s, so a 0.5 s total allows at most two of them.
    assert 2 <= openai_server.count(PATH) <= 3


@pytest.mark.parametrize("status", [401, 403])
async def test_auth_errors_are_not_retried(
    status: int, openai_server: OpenAIServer, session: ProviderSession
) -> None:
    openai_server.script(Reply(status=status, json={"error": {"message": "no"}}))
    with pytest.raises(AuthError, match="OPENAI_API_KEY") as caught:
        await complete_json("q", OUTPUTS, session=session)
    assert caught.value.status == status
    assert openai_server.count(PATH) == 1


async def test_other_4xx_is_not_retried(
    openai_server: OpenAIServer, session: ProviderSession
) -> None:
    openai_server.script(Reply(status=400, json={"error": {"message": "bad schema"}}))
    with pytest.raises(ProviderError, match="bad schema"):
        await complete_json("q", OUTPUTS, session=session)
    assert openai_server.count(PATH) == 1


async def test_server_rate_limit_storm_is_ridden_out(
    monkeypatch: pytest.MonkeyPatch, session: ProviderSession
) -> None:
    # The server accepts 3 requests per second and answers 429 + Retry-After: 1 beyond.
    with SerperServer(rate_limit=3, retry_after="1") as serper:
        for name, value in serper.env().items():
            monkeypatch.setenv(name, value)
        results = await asyncio.gather(
            *(web_search(f"query {i}", session=session) for i in range(6))
        )
        statuses_429 = serper.count() - 6
    assert len(results) == 6 and all(r.data for r in results)
    assert statuses_429 >= 3  # the storm happened and every call still got through


async def test_max_in_flight_is_respected(openai_server: OpenAIServer) -> None:
    openai_server.latency = 0.15
    async with ProviderSession(
        retry=FAST_RETRY, limits={"openai": Limit(requests_per_second=None, max_in_flight=2)}
    ) as s:
        await asyncio.gather(*(complete_json(f"q{i}", OUTPUTS, session=s) for i in range(6)))
    assert openai_server.count(PATH) == 6
    assert openai_server.max_in_flight <= 2
    # Control: without the cap the same calls overlap, so the assertion above can fail.
    openai_server.reset()
    async with ProviderSession(
        retry=FAST_RETRY, limits={"openai": Limit(requests_per_second=None, max_in_flight=16)}
    ) as s:
        await asyncio.gather(*(complete_json(f"r{i}", OUTPUTS, session=s) for i in range(6)))
    assert openai_server.max_in_flight > 2
