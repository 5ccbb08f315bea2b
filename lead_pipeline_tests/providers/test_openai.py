"""The OpenAI-compatible backend against a chat-completions server on 127.0.0.1."""

from __future__ import annotations

import logging

import pytest

from lead_pipeline.providers import (
    Budget,
    BudgetExceeded,
    InvalidAnswer,
    MemoryCache,
    NotConfigured,
    ProviderSession,
    ProviderUnavailable,
    complete_json,
    llm_configured,
)
from lead_pipeline_tests.providers.conftest import FAST_RETRY
from lead_pipeline_tests.servers import OpenAIServer, Reply, chat_completion

OUTPUTS = {"is_b2b": "boolean", "b2b_confidence": "number", "b2b_reason": "string"}
PATH = "/v1/chat/completions"


async def test_answer_is_validated_dict_and_request_is_strict_json_schema(
    openai_server: OpenAIServer, session: ProviderSession
) -> None:
    openai_server.responder = lambda body: {
        "is_b2b": False,
        "b2b_confidence": 0.25,
        "b2b_reason": "sells to consumers",
    }
    response = await complete_json(
        "Is Acme B2B?", OUTPUTS, model="gpt-4o-mini", system="be brief", session=session
    )
    assert response.data == {
        "is_b2b": False,
        "b2b_confidence": 0.25,
        "b2b_reason": "sells to consumers",
    }
    assert response.provider == "openai" and response.cached is False
    [request] = openai_server.requests
    assert request.headers["authorization"] == f"Bearer {openai_server.api_key}"
    assert request.headers["user-agent"].startswith("lead-pipeline/")
    body = request.json
    assert body["model"] == "gpt-4o-mini"
    assert body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "Is Acme B2B?"},
    ]
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    schema = fmt["json_schema"]["schema"]
    assert schema["required"] == ["is_b2b", "b2b_confidence", "b2b_reason"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["is_b2b"] == {"type": "boolean"}


async def test_cost_is_usage_times_price_table(
    openai_server: OpenAIServer, session: ProviderSession
) -> None:
    # gpt-4o-mini: $0.15 per 1M input, $0.60 per 1M output; the server reports 1000 + 200.
    response = await complete_json("q", OUTPUTS, model="gpt-4o-mini", session=session)
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens) == (1000, 200)
    assert response.cost == pytest.approx((1000 * 0.15 + 200 * 0.60) / 1_000_000)
    assert session.budget.spent == pytest.approx(response.cost)


async def test_cached_prompt_tokens_are_billed_at_the_cached_rate(
    openai_server: OpenAIServer, session: ProviderSession
) -> None:
    # gpt-4o-mini: $0.15 per 1M input, $0.075 per 1M cached input, $0.60 per 1M output.
    openai_server.cached_tokens = 600
    response = await complete_json("q", OUTPUTS, model="gpt-4o-mini", session=session)
    assert response.usage is not None
    assert response.usage.input_tokens == 1000 and response.usage.cached_input_tokens == 600
    assert response.cost == pytest.approx((400 * 0.15 + 600 * 0.075 + 200 * 0.60) / 1_000_000)
    assert session.budget.spent == pytest.approx(response.cost)


async def test_a_model_no_table_knows_is_reported_once_and_counted_at_zero(
    openai_server: OpenAIServer, session: ProviderSession, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        first = await complete_json("q", OUTPUTS, model="in-house-llm", session=session)
        second = await complete_json("q2", OUTPUTS, model="in-house-llm", session=session)
    assert first.cost == 0.0 and second.cost == 0.0
    reports = [r.getMessage() for r in caplog.records if "in-house-llm" in r.getMessage()]
    assert len(reports) == 1 and "LEAD_PIPELINE_PRICES" in reports[0]


async def test_price_override_from_env(
    openai_server: OpenAIServer, session: ProviderSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEAD_PIPELINE_PRICES", '{"my-model": [10, 20]}')
    async with ProviderSession(retry=session.retry) as priced:
        response = await complete_json("q", OUTPUTS, model="my-model", session=priced)
    assert response.cost == pytest.approx((1000 * 10 + 200 * 20) / 1_000_000)


async def test_model_from_env_then_default(
    openai_server: OpenAIServer, session: ProviderSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    await complete_json("q", OUTPUTS, session=session)
    monkeypatch.setenv("LEAD_PIPELINE_LLM_MODEL", "gpt-4.1-mini")
    await complete_json("q2", OUTPUTS, session=session)
    assert [r.json["model"] for r in openai_server.requests] == ["gpt-4o-mini", "gpt-4.1-mini"]


async def test_cache_hit_means_no_second_call(openai_server: OpenAIServer) -> None:
    cache = MemoryCache()
    async with ProviderSession(cache=cache) as first:
        paid = await complete_json("Is Acme B2B?", OUTPUTS, session=first)
    async with ProviderSession(cache=cache) as second:
        again = await complete_json("Is Acme B2B?", OUTPUTS, session=second)
        other = await complete_json("Is Beta B2B?", OUTPUTS, session=second)
    assert openai_server.count(PATH) == 2  # the first question once, the second once
    assert again.cached is True and again.cost == 0.0 and again.data == paid.data
    assert second.budget.spent == pytest.approx(other.cost)
    assert len(cache.entries) == 2


async def test_truncated_answer_is_asked_again_with_more_tokens(
    openai_server: OpenAIServer, session: ProviderSession
) -> None:
    openai_server.script(
        Reply(json=chat_completion('{"is_b2b": tr', finish_reason="length", completion_tokens=64))
    )
    response = await complete_json("q", OUTPUTS, max_tokens=64, session=session)
    assert response.data["is_b2b"] is True
    sent = [r.json["max_completion_tokens"] for r in openai_server.requests]
    assert sent == [64, 128]


async def test_invalid_twice_raises_invalid_answer_and_charges_both(
    openai_server: OpenAIServer, session: ProviderSession
) -> None:
    wrong = chat_completion({"is_b2b": "yes"}, prompt_tokens=1000, completion_tokens=200)
    openai_server.script(Reply(json=wrong), Reply(json=wrong))
    cache = MemoryCache()
    async with ProviderSession(retry=session.retry, cache=cache) as s:
        with pytest.raises(InvalidAnswer) as caught:
            await complete_json("q", OUTPUTS, model="gpt-4o-mini", session=s)
        assert s.budget.spent == pytest.approx(2 * (1000 * 0.15 + 200 * 0.60) / 1e6)
    assert openai_server.count(PATH) == 2
    assert "is_b2b" in str(caught.value) and "expected boolean" in str(caught.value)
    assert caught.value.cost == pytest.approx(2 * (1000 * 0.15 + 200 * 0.60) / 1e6)
    assert cache.entries == {}  # failures are never cached
    # The retry told the model what was wrong.
    assert "does not match the schema" in openai_server.requests[1].json["messages"][-1]["content"]


async def test_body_that_is_not_json_is_retried_once(
    openai_server: OpenAIServer, session: ProviderSession
) -> None:
    openai_server.script(
        Reply(body='{"id": "chatcmpl-1", "choices": [{"mess', content_type="application/json")
    )
    response = await complete_json("q", OUTPUTS, session=session)
    assert response.data["b2b_reason"] == "stub"
    assert openai_server.count(PATH) == 2


async def test_transport_truncation_is_retried(
    openai_server: OpenAIServer, session: ProviderSession
) -> None:
    openai_server.script(Reply(json=chat_completion({"a": 1}), truncate=True))
    response = await complete_json("q", OUTPUTS, session=session)
    assert response.data["is_b2b"] is True
    assert openai_server.count(PATH) == 2


async def test_slow_answers_time_out_and_are_retried_then_fail(
    openai_server: OpenAIServer, session: ProviderSession
) -> None:
    openai_server.latency = 1.0
    from lead_pipeline.providers import Timeouts

    async with ProviderSession(
        retry=session.retry, timeouts=Timeouts(total=0.2, connect=0.2, read=0.2)
    ) as hurried:
        with pytest.raises(ProviderUnavailable, match="timed out"):
            await complete_json("q", OUTPUTS, session=hurried)
    assert openai_server.count(PATH) == 3  # max_attempts of the fast retry policy


def test_not_configured_names_the_variables() -> None:
    assert llm_configured() is False
    with pytest.raises(NotConfigured) as caught:
        import asyncio

        asyncio.run(complete_json("q", OUTPUTS))
    assert "OPENAI_API_KEY" in str(caught.value) and "ANTHROPIC_API_KEY" in str(caught.value)
    assert caught.value.env_vars == ["OPENAI_API_KEY", "ANTHROPIC_API_KEY"]


async def test_a_question_reserves_its_most_before_it_is_sent(
    openai_server: OpenAIServer,
) -> None:
    """gpt-4o-mini, $0.15/$0.60 per 1M tokens: without max_tokens a question may answer
    4,096 tokens (sent as the limit), $0.0025 alone, so a $0.002 cap refuses it unsent;
    with max_tokens 300 it fits, and what it cost is what the budget counts."""
    async with ProviderSession(budget=Budget(max_cost=0.002), retry=FAST_RETRY) as s:
        with pytest.raises(BudgetExceeded, match="budget reached"):
            await complete_json("Is Acme B2B?", OUTPUTS, model="gpt-4o-mini", session=s)
        assert openai_server.count(PATH) == 0
        response = await complete_json(
            "Is Acme B2B?", OUTPUTS, model="gpt-4o-mini", max_tokens=300, session=s
        )
        assert s.budget.spent == pytest.approx(response.cost)
    assert openai_server.count(PATH) == 1
    assert openai_server.requests[0].json["max_completion_tokens"] == 300
    async with ProviderSession(retry=FAST_RETRY) as s:
        await complete_json("Another?", OUTPUTS, model="gpt-4o-mini", session=s)
    assert openai_server.requests[1].json["max_completion_tokens"] == 4096


async def test_a_second_question_that_does_not_fit_keeps_the_first_ones_cost(
    openai_server: OpenAIServer,
) -> None:
    wrong = chat_completion({"is_b2b": "yes"}, prompt_tokens=1000, completion_tokens=200)
    openai_server.script(Reply(json=wrong), Reply(json=wrong))
    first = (1000 * 0.15 + 200 * 0.60) / 1e6
    # Room for one question at 300 answer tokens (about $0.0004), not for a second.
    async with ProviderSession(budget=Budget(max_cost=0.0006), retry=FAST_RETRY) as s:
        with pytest.raises(BudgetExceeded) as caught:
            await complete_json("q", OUTPUTS, model="gpt-4o-mini", max_tokens=300, session=s)
        assert s.budget.spent == pytest.approx(first)
    assert caught.value.cost == pytest.approx(first)
    assert openai_server.count(PATH) == 1
