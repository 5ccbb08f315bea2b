"""Waterfalls over real search servers: the first provider whose answer passes wins."""

from __future__ import annotations

from typing import Any

import pytest

from lead_pipeline.providers import (
    Budget,
    BudgetExceeded,
    NotConfigured,
    ProviderSession,
    WaterfallExhausted,
    web_search,
)
from lead_pipeline.providers.waterfall import waterfall
from lead_pipeline_tests.providers.conftest import FAST_RETRY
from lead_pipeline_tests.servers import BraveServer, Reply, SerperServer

HIT = [{"title": "Ada - CEO - Acme", "url": "https://www.linkedin.com/in/ada", "snippet": ""}]


def has_linkedin(results: Any) -> bool:
    return any("linkedin.com/in/" in r["url"] for r in results)


def searcher(session: ProviderSession):  # type: ignore[no-untyped-def]
    return lambda provider: web_search("acme ceo", provider=provider, session=session)


async def test_second_provider_answers_when_first_is_rejected(
    serper_server: SerperServer, brave_server: BraveServer, session: ProviderSession
) -> None:
    serper_server.results = {"acme ceo": []}
    brave_server.results = {"acme ceo": HIT}
    result = await waterfall(["serper", "brave"], searcher(session), validate=has_linkedin)
    assert result.found and result.provider == "brave" and result.value == HIT
    assert [(a.provider, a.outcome) for a in result.attempts] == [
        ("serper", "rejected"),
        ("brave", "ok"),
    ]
    assert result.cost == pytest.approx(0.001 + 0.005)


async def test_first_valid_answer_stops_the_waterfall(
    serper_server: SerperServer, brave_server: BraveServer, session: ProviderSession
) -> None:
    serper_server.results = {"acme ceo": HIT}
    result = await waterfall(["serper", "brave"], searcher(session), validate=has_linkedin)
    assert result.provider == "serper"
    assert brave_server.count() == 0


async def test_async_validator_and_errors_fall_through(
    serper_server: SerperServer, brave_server: BraveServer, session: ProviderSession
) -> None:
    serper_server.script(Reply(status=401, json={"message": "bad key"}))
    brave_server.results = {"acme ceo": HIT}

    async def validate(results: Any) -> bool:
        return has_linkedin(results)

    result = await waterfall(["serper", "brave"], searcher(session), validate=validate)
    assert result.provider == "brave"
    assert result.attempts[0].outcome == "error" and "SERPER_API_KEY" in result.attempts[0].error


async def test_nothing_found_is_a_result_not_an_error(
    serper_server: SerperServer, brave_server: BraveServer, session: ProviderSession
) -> None:
    serper_server.results = {"acme ceo": []}
    brave_server.results = {"acme ceo": []}
    result = await waterfall(["serper", "brave"], searcher(session), validate=has_linkedin)
    assert not result.found and result.value is None and result.provider is None


async def test_unconfigured_providers_are_skipped(
    brave_server: BraveServer, session: ProviderSession
) -> None:
    brave_server.results = {"acme ceo": HIT}
    result = await waterfall(["serper", "brave"], searcher(session), validate=has_linkedin)
    assert result.provider == "brave"
    assert result.attempts[0].outcome == "not_configured"


async def test_none_configured_names_every_variable(session: ProviderSession) -> None:
    with pytest.raises(NotConfigured) as caught:
        await waterfall(["serper", "brave"], searcher(session))
    assert caught.value.env_vars == ["SERPER_API_KEY", "BRAVE_API_KEY"]


async def test_all_failing_raises_with_every_reason(
    serper_server: SerperServer, brave_server: BraveServer, session: ProviderSession
) -> None:
    serper_server.script(*[Reply(status=500, json={})] * FAST_RETRY.max_attempts)
    brave_server.script(Reply(status=403, json={}))
    with pytest.raises(WaterfallExhausted) as caught:
        await waterfall(["serper", "brave"], searcher(session))
    assert "serper:" in str(caught.value) and "brave:" in str(caught.value)


async def test_budget_exhaustion_stops_the_waterfall(
    serper_server: SerperServer, brave_server: BraveServer
) -> None:
    serper_server.results = {"acme ceo": []}
    async with ProviderSession(budget=Budget(max_cost=0.001), retry=FAST_RETRY) as s:
        with pytest.raises(BudgetExceeded):
            await waterfall(["serper", "brave"], searcher(s), validate=has_linkedin)
    assert serper_server.count() == 1 and brave_server.count() == 0
