"""Budget, response cache (in memory and the real LeadStore) and price table."""

from __future__ import annotations

import pytest

from lead_pipeline.providers import (
    Budget,
    BudgetExceeded,
    MemoryCache,
    PriceError,
    PriceTable,
    ProviderSession,
    ProviderUnavailable,
    Usage,
    cache_key,
    complete_json,
    load_prices,
    web_search,
)
from lead_pipeline.store import LeadStore
from lead_pipeline_tests.providers.conftest import FAST_RETRY
from lead_pipeline_tests.servers import OpenAIServer, Reply, SerperServer

OUTPUTS = {"is_b2b": "boolean"}


def test_budget_charges_and_exhausts() -> None:
    budget = Budget(max_cost=0.01)
    budget.check()
    budget.charge(0.004)
    assert not budget.exhausted and budget.remaining == pytest.approx(0.006)
    budget.charge(0.006)
    assert budget.exhausted
    with pytest.raises(BudgetExceeded, match="max_cost"):
        budget.check()
    uncapped = Budget()
    uncapped.charge(1e6)
    assert not uncapped.exhausted and uncapped.spent == 1e6


async def test_exhausted_budget_stops_paid_calls_but_serves_cache(
    serper_server: SerperServer,
) -> None:
    # Serper costs $0.001 a call; a $0.002 budget pays for exactly two calls.
    cache = MemoryCache()
    async with ProviderSession(cache=cache, budget=Budget(max_cost=0.002), retry=FAST_RETRY) as s:
        await web_search("one", session=s)
        await web_search("two", session=s)
        assert s.budget.exhausted
        with pytest.raises(BudgetExceeded):
            await web_search("three", session=s)
        cached = await web_search("one", session=s)  # free, so still answered
    assert serper_server.count() == 2
    assert cached.cached and cached.cost == 0


async def test_failed_calls_are_not_cached(
    openai_server: OpenAIServer, session: ProviderSession
) -> None:
    cache = MemoryCache()
    openai_server.script(*[Reply(status=500, json={})] * FAST_RETRY.max_attempts)
    async with ProviderSession(cache=cache, retry=FAST_RETRY) as s:
        with pytest.raises(ProviderUnavailable):
            await complete_json("q", OUTPUTS, session=s)
        assert cache.entries == {}
        response = await complete_json("q", OUTPUTS, session=s)
    assert response.cached is False
    assert openai_server.count() == FAST_RETRY.max_attempts + 1


async def test_lead_store_cache_serves_a_rerun(
    openai_server: OpenAIServer, store: LeadStore
) -> None:
    async with ProviderSession(cache=store) as run1:
        first = await complete_json("Is Acme B2B?", OUTPUTS, session=run1)
    async with ProviderSession(cache=store) as run2:
        second = await complete_json("Is Acme B2B?", OUTPUTS, session=run2)
    assert openai_server.count() == 1
    assert second.cached and second.data == first.data and second.cost == 0
    assert second.usage == first.usage
    assert run2.budget.spent == 0


class BrokenCache:
    def cache_get(self, key: str) -> None:
        raise RuntimeError("disk on fire")

    def cache_put(self, key: str, provider: str, response: object) -> None:
        raise RuntimeError("disk on fire")


async def test_broken_cache_does_not_fail_the_call(openai_server: OpenAIServer) -> None:
    async with ProviderSession(cache=BrokenCache()) as s:
        response = await complete_json("q", OUTPUTS, session=s)
    assert response.data == {"is_b2b": True}


def test_cache_key_ignores_key_order_and_separates_providers() -> None:
    a = cache_key("openai", {"model": "m", "prompt": "p"})
    assert a == cache_key("openai", {"prompt": "p", "model": "m"})
    assert a != cache_key("anthropic", {"model": "m", "prompt": "p"})
    assert a != cache_key("openai", {"model": "m", "prompt": "p2"})
    assert len(a) == 64


def test_price_table_exact_prefix_and_unknown(caplog: pytest.LogCaptureFixture) -> None:
    table = PriceTable({"gpt-4o": (2.5, 10.0), "gpt-4o-mini": (0.15, 0.6), "serper": 0.001})
    usage = Usage(1_000_000, 1_000_000)
    assert table.token_cost("gpt-4o-mini-2024-07-18", usage) == pytest.approx(0.75)
    assert table.token_cost("gpt-4o-2024-08-06", usage) == pytest.approx(12.5)
    assert table.request_cost("serper") == 0.001
    assert table.token_cost("mystery-model", usage) == 0.0
    assert "mystery-model" in caplog.text and "LEAD_PIPELINE_PRICES" in caplog.text


def test_prices_env_override_and_errors() -> None:
    prices = load_prices('{"gpt-4o-mini": [1, 2], "brave": 0.01}')
    assert prices["gpt-4o-mini"] == (1.0, 2.0) and prices["brave"] == 0.01
    assert prices["serper"] == 0.001  # defaults kept
    with pytest.raises(PriceError, match="LEAD_PIPELINE_PRICES: not valid JSON"):
        load_prices("{nope")
    with pytest.raises(PriceError, match="'gpt-x'"):
        load_prices('{"gpt-x": [1]}')
    with pytest.raises(PriceError, match="JSON object"):
        load_prices("[1, 2]")
