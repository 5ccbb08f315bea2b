"""Budget, response cache (in memory and the real LeadStore) and price table."""

from __future__ import annotations

import logging

import pytest
from genai_prices import Usage as ListedUsage
from genai_prices import calc_price

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
    web_search,
)
from lead_pipeline.providers.budget import InvalidCost, Reservation
from lead_pipeline.providers.cost import REQUEST_PRICES
from lead_pipeline.providers.errors import BudgetHeld
from lead_pipeline.settings import SettingsError
from lead_pipeline.store import LeadStore
from lead_pipeline_tests.providers.conftest import FAST_RETRY
from lead_pipeline_tests.servers import OpenAIServer, Reply, SerperServer

OUTPUTS = {"is_b2b": "boolean"}


def test_budget_reserves_then_settles_and_refuses_what_does_not_fit() -> None:
    budget = Budget(max_cost=0.01)
    first = Reservation("x")
    budget.reserve(first, 0.006)
    # 0.006 reserved + 0.005 > 0.01, but the reservation may settle lower: held, not refused.
    with pytest.raises(BudgetHeld, match="reserved by calls in flight"):
        budget.reserve(Reservation("x"), 0.005)
    assert not budget.exhausted
    budget.settle(first, 0.004)  # the real price: 0.002 of the reservation comes back
    second = Reservation("x")
    budget.reserve(second, 0.006)
    budget.settle(second, 0.006)
    # $0.01 spent: now the cap itself leaves no room, and that is a refusal.
    with pytest.raises(BudgetExceeded, match="max_cost") as refused:
        budget.reserve(Reservation("x"), 0.001)
    assert not isinstance(refused.value, BudgetHeld)
    assert budget.exhausted  # no further row starts
    assert budget.spent == pytest.approx(0.01)
    uncapped = Budget()
    free = Reservation("x")
    uncapped.reserve(free, 1e6)
    uncapped.settle(free, 1e6)
    assert not uncapped.exhausted and uncapped.spent == 1e6


@pytest.mark.parametrize("bad", [float("inf"), float("nan"), -0.01, 1e400, 10**400, "1", [1]])
def test_the_ledger_refuses_a_cost_that_is_not_a_finite_bounded_amount(bad: object) -> None:
    budget = Budget(max_cost=1.0)
    reservation = Reservation("hunter")
    budget.reserve(reservation, 0.5)
    with pytest.raises(InvalidCost, match="hunter: the cost of a call"):
        budget.settle(reservation, bad)  # type: ignore[arg-type]
    assert budget.spent == 0


async def test_exhausted_budget_stops_paid_calls_but_serves_cache(
    serper_server: SerperServer,
) -> None:
    # Serper costs $0.001 a call; a $0.002 budget pays for exactly two calls.
    cache = MemoryCache()
    async with ProviderSession(cache=cache, budget=Budget(max_cost=0.002), retry=FAST_RETRY) as s:
        await web_search("one", session=s)
        await web_search("two", session=s)
        assert not s.budget.exhausted  # all of it spent, but a cached answer is still free
        with pytest.raises(BudgetExceeded):
            await web_search("three", session=s)
        assert s.budget.exhausted  # a paid call was refused: no further row starts
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


def _listed(model: str, provider: str) -> tuple[float, float, float]:
    """genai-prices' (input, output, cached input) USD per 1M tokens of ``model``."""
    price = calc_price(ListedUsage(input_tokens=0), model, provider_id=provider).model_price
    return float(price.input_mtok), float(price.output_mtok), float(price.cache_read_mtok)


def test_token_prices_come_from_genai_prices_by_model_not_by_prefix() -> None:
    table = PriceTable({})
    usage = Usage(1_000_000, 1_000_000)
    mini_in, mini_out, _ = _listed("gpt-4o-mini", "openai")
    # A dated snapshot is its model.
    assert table.token_cost("gpt-4o-mini-2024-07-18", usage, provider="openai") == pytest.approx(
        mini_in + mini_out
    )
    # A newer model is priced as itself, not at the rate of an older one its name starts with.
    opus_in, opus_out, _ = _listed("claude-opus-4-5", "anthropic")
    older_in, older_out, _ = _listed("claude-opus-4", "anthropic")
    assert (opus_in, opus_out) != (older_in, older_out)
    assert table.token_cost("claude-opus-4-5", usage, provider="anthropic") == pytest.approx(
        opus_in + opus_out
    )
    assert table.request_cost("serper") == REQUEST_PRICES["serper"]


def test_cached_input_tokens_are_billed_at_the_cached_rate() -> None:
    table = PriceTable({})
    full, _, cached = _listed("gpt-4o-mini", "openai")
    assert cached < full
    usage = Usage(1_000_000, 0, cached_input_tokens=400_000)
    assert table.token_cost("gpt-4o-mini", usage, provider="openai") == pytest.approx(
        0.6 * full + 0.4 * cached
    )
    # An override's third number is its cached rate; without one, cached input costs the input rate.
    priced = PriceTable({"my-model": (2.0, 8.0, 0.5), "flat": (2.0, 8.0)})
    assert priced.token_cost("my-model", usage) == pytest.approx(0.6 * 2.0 + 0.4 * 0.5)
    assert priced.token_cost("flat", usage) == pytest.approx(2.0)


def test_overrides_win_by_exact_name_only() -> None:
    table = PriceTable({"gpt-4o": (1.0, 1.0), "serper": 0.002})
    usage = Usage(1_000_000, 1_000_000)
    assert table.token_cost("gpt-4o", usage, provider="openai") == pytest.approx(2.0)
    mini_in, mini_out, _ = _listed("gpt-4o-mini", "openai")
    assert table.token_cost("gpt-4o-mini", usage, provider="openai") == pytest.approx(
        mini_in + mini_out
    )
    assert table.request_cost("serper") == 0.002
    assert table.request_cost("brave") == REQUEST_PRICES["brave"]
    with pytest.raises(PriceError, match="per request"):
        PriceTable({"serper": (1.0, 2.0)}).request_cost("serper")


def test_an_unknown_model_is_reported_once_and_counted_at_zero(
    caplog: pytest.LogCaptureFixture,
) -> None:
    usage = Usage(1_000_000, 1_000_000)
    with caplog.at_level(logging.WARNING):
        assert PriceTable({}).token_cost("mystery-model-7", usage, provider="openai") == 0.0
        assert PriceTable({}).token_cost("mystery-model-7", usage, provider="openai") == 0.0
    warnings = [r for r in caplog.records if "mystery-model-7" in r.getMessage()]
    assert len(warnings) == 1
    text = warnings[0].getMessage()
    assert "genai-prices" in text and "LEAD_PIPELINE_PRICES" in text and "$0" in text


def test_prices_env_override_and_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEAD_PIPELINE_PRICES", '{"gpt-4o-mini": [1, 2], "brave": 0.01}')
    table = PriceTable()
    assert table.token_cost("gpt-4o-mini", Usage(1_000_000, 1_000_000)) == pytest.approx(3.0)
    assert table.request_cost("brave") == 0.01
    assert table.request_cost("serper") == REQUEST_PRICES["serper"]  # defaults kept
    for raw, message in [
        ("{nope", "LEAD_PIPELINE_PRICES: not valid JSON"),
        ('{"gpt-x": [1]}', "'gpt-x'"),
        ("[1, 2]", "JSON object"),
    ]:
        monkeypatch.setenv("LEAD_PIPELINE_PRICES", raw)
        with pytest.raises(SettingsError, match=message):
            PriceTable()
