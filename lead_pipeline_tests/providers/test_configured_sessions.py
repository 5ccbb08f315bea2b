"""A call that opens its own session (no run's session passed) follows the settings:
``LEAD_PIPELINE_RETRY``, ``LEAD_PIPELINE_TIMEOUTS``, ``LEAD_PIPELINE_RATE_LIMITS`` and
``LEAD_PIPELINE_PRICES`` reach it exactly as they reach a run's shard."""

from __future__ import annotations

import pytest

from lead_pipeline.providers import (
    Limit,
    NotConfigured,
    ProviderSession,
    ProviderUnavailable,
    RetryPolicy,
    Timeouts,
    web_search,
)
from lead_pipeline.providers.session import opens_session
from lead_pipeline.settings import get_settings, load_settings
from lead_pipeline_tests.servers import Reply, SerperServer


async def test_a_one_off_call_makes_the_configured_number_of_attempts(
    serper_server: SerperServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Unconfigured, the call would make four attempts and the fifth answer would succeed.
    monkeypatch.setenv("LEAD_PIPELINE_RETRY", '{"max_attempts": 2, "base_delay": 0.01}')
    serper_server.script(*[Reply(status=500, json={"message": "down"})] * 4)
    with pytest.raises(ProviderUnavailable, match=r"HTTP 500 \(attempt 2 of 2\)"):
        await web_search("acme founder")
    assert serper_server.count("/search") == 2


async def test_a_one_off_call_gives_up_on_an_answer_slower_than_the_configured_timeout(
    serper_server: SerperServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Unconfigured (60 s), the slow answer would arrive and the call would succeed.
    monkeypatch.setenv("LEAD_PIPELINE_RETRY", '{"max_attempts": 1}')
    monkeypatch.setenv("LEAD_PIPELINE_TIMEOUTS", '{"total": 0.5, "read": 0.5}')
    serper_server.script(Reply(json={"organic": []}, delay=3.0))
    with pytest.raises(ProviderUnavailable, match="timed out"):
        await web_search("acme founder")
    assert serper_server.count("/search") == 1


async def test_the_session_a_one_off_call_opens_is_configured_like_a_run_s(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "LEAD_PIPELINE_RATE_LIMITS",
        '{"serper": {"requests_per_second": 2, "max_in_flight": 3, "burst": 2}}',
    )
    monkeypatch.setenv("LEAD_PIPELINE_RETRY", '{"max_attempts": 2}')
    monkeypatch.setenv("LEAD_PIPELINE_TIMEOUTS", '{"total": 7}')
    monkeypatch.setenv("LEAD_PIPELINE_PRICES", '{"serper": 0.5}')

    @opens_session
    async def probe(*, session: ProviderSession | None = None) -> ProviderSession:
        assert session is not None
        return session

    session = await probe()
    assert session.policy("serper").limit == Limit(requests_per_second=2, max_in_flight=3, burst=2)
    assert session.policy("brave").limit == Limit(requests_per_second=None, max_in_flight=10_000)
    assert session.retry == RetryPolicy(max_attempts=2)
    assert session.timeouts == Timeouts(total=7)
    assert session.prices.overrides == {"serper": 0.5}


def test_a_caller_s_own_limit_gives_way_to_a_configured_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEAD_PIPELINE_RATE_LIMITS", '{"hubspot": {"max_in_flight": 2}}')
    own = Limit(requests_per_second=10.0, max_in_flight=4)
    configured = ProviderSession.configured(
        get_settings(), defaults={"hubspot": own, "pdl": own}, share=0.5
    )
    assert configured.policy("hubspot").limit == Limit(requests_per_second=None, max_in_flight=1)
    assert configured.policy("pdl").limit == own


async def test_a_session_s_calls_read_keys_and_endpoints_from_its_own_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The settings are passed down with the session: the environment has no Serper key
    nor endpoint, the session's settings do, and the call uses them."""
    for name in ("SERPER_API_KEY", "SERPER_BASE_URL", "BRAVE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    with SerperServer() as server:
        config = load_settings(**server.env())
        async with ProviderSession.configured(config) as session:
            response = await web_search("acme founder", session=session)
        assert response.provider == "serper"
        assert server.count("/search") == 1
        with pytest.raises(NotConfigured, match="SERPER_API_KEY"):
            await web_search("acme founder")  # a one-off call reads the environment
