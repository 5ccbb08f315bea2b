"""The Anthropic Messages backend: a forced tool call carries the structured answer."""

from __future__ import annotations

import pytest

from lead_pipeline.providers import (
    InvalidAnswer,
    NotConfigured,
    ProviderSession,
    complete_json,
    configured_llm_backends,
    resolve_backend,
)
from lead_pipeline_tests.servers import AnthropicServer, OpenAIServer, Reply, anthropic_message

OUTPUTS = {"is_b2b": "boolean", "b2b_confidence": "number", "founders": "array"}
PATH = "/v1/messages"


async def test_tool_call_request_and_answer(
    anthropic_server: AnthropicServer, session: ProviderSession
) -> None:
    anthropic_server.responder = lambda body: {
        "is_b2b": True,
        "b2b_confidence": 0.9,
        "founders": ["Ada"],
    }
    response = await complete_json(
        "Is Acme B2B?", OUTPUTS, model="claude-haiku-4-5", system="sys", session=session
    )
    assert response.data == {"is_b2b": True, "b2b_confidence": 0.9, "founders": ["Ada"]}
    assert response.provider == "anthropic"
    [request] = anthropic_server.requests
    assert request.headers["x-api-key"] == anthropic_server.api_key
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in request.headers
    body = request.json
    assert body["system"] == "sys" and body["max_tokens"] == 1024
    assert body["messages"] == [{"role": "user", "content": "Is Acme B2B?"}]
    [tool] = body["tools"]
    assert body["tool_choice"] == {"type": "tool", "name": tool["name"]}
    assert tool["input_schema"]["required"] == ["is_b2b", "b2b_confidence", "founders"]
    assert tool["input_schema"]["properties"]["founders"] == {
        "type": "array",
        "items": {"type": "string"},
    }


async def test_cost_from_usage(anthropic_server: AnthropicServer, session: ProviderSession) -> None:
    # claude-haiku-4-5: $1 per 1M input, $5 per 1M output; the server reports 2000 + 400.
    response = await complete_json("q", OUTPUTS, model="claude-haiku-4-5-20251001", session=session)
    assert response.cost == pytest.approx((2000 * 1 + 400 * 5) / 1_000_000)


async def test_cache_reads_count_as_input_at_the_cached_rate(
    anthropic_server: AnthropicServer, session: ProviderSession
) -> None:
    # claude-haiku-4-5: $1 per 1M input, $0.10 per 1M cache reads, $5 per 1M output; of the
    # 2000 input tokens 1500 are read from the cache (Anthropic reports them apart).
    anthropic_server.cached_tokens = 1500
    response = await complete_json("q", OUTPUTS, model="claude-haiku-4-5", session=session)
    assert response.usage is not None
    assert response.usage.input_tokens == 2000 and response.usage.cached_input_tokens == 1500
    assert response.cost == pytest.approx((500 * 1 + 1500 * 0.10 + 400 * 5) / 1_000_000)


async def test_max_tokens_stop_is_retried_with_double_allowance(
    anthropic_server: AnthropicServer, session: ProviderSession
) -> None:
    anthropic_server.script(Reply(json=anthropic_message(None, stop_reason="max_tokens")))
    response = await complete_json("q", OUTPUTS, max_tokens=300, session=session)
    assert response.data["is_b2b"] is True
    assert [r.json["max_tokens"] for r in anthropic_server.requests] == [300, 600]


async def test_schema_mismatch_twice_is_invalid_answer(
    anthropic_server: AnthropicServer, session: ProviderSession
) -> None:
    anthropic_server.responder = lambda body: {"is_b2b": True}  # two columns missing
    with pytest.raises(InvalidAnswer, match="missing 'b2b_confidence'"):
        await complete_json("q", OUTPUTS, session=session)
    assert anthropic_server.count(PATH) == 2


async def test_default_backend_prefers_openai_and_env_can_choose(
    anthropic_server: AnthropicServer,
    monkeypatch: pytest.MonkeyPatch,
    session: ProviderSession,
) -> None:
    assert configured_llm_backends() == ["anthropic"]
    with OpenAIServer() as openai_server:
        for name, value in openai_server.env().items():
            monkeypatch.setenv(name, value)
        assert resolve_backend() == "openai"
        monkeypatch.setenv("LEAD_PIPELINE_LLM_BACKEND", "anthropic")
        monkeypatch.setenv("LEAD_PIPELINE_LLM_MODEL", "gpt-4o-mini")  # not a Claude model
        response = await complete_json("q", OUTPUTS, session=session)
        assert openai_server.count() == 0
    assert response.provider == "anthropic"
    assert anthropic_server.requests[0].json["model"] == "claude-haiku-4-5"


def test_chosen_backend_without_key_is_not_configured() -> None:
    with pytest.raises(NotConfigured, match="ANTHROPIC_API_KEY"):
        resolve_backend("anthropic")
    with pytest.raises(ValueError, match="unknown LLM backend"):
        resolve_backend("gemini")
