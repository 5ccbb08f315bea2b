"""Hostile LLM answers (OpenAI and Anthropic): token counts that cannot price a call, and
answers that are not completions, against the stand-in servers."""

from __future__ import annotations

import math
from typing import Any

import pytest

from lead_pipeline.providers import (
    InvalidAnswer,
    MemoryCache,
    ProviderSession,
    UnpricedAnswer,
    complete_json,
)
from lead_pipeline.providers.llm import DEFAULT_SYSTEM
from lead_pipeline_tests.providers.conftest import FAST_RETRY
from lead_pipeline_tests.servers import (
    AnthropicServer,
    OpenAIServer,
    Reply,
    anthropic_message,
    chat_completion,
)

OUTPUTS = {"is_b2b": "boolean"}
ANSWER = {"is_b2b": True}
PROMPT = "Is Acme B2B? " * 40
# The question (system and user text) at 4 characters a token.
ASKED = (len(PROMPT) + len(DEFAULT_SYSTEM)) // 4
# gpt-4o-mini at $0.15 / $0.60 per 1M; claude-haiku-4-5 at $1 / $5 per 1M.
OPENAI_ESTIMATE = (ASKED * 0.15 + 4096 * 0.60) / 1e6  # the limit sent when none is set
ANTHROPIC_ESTIMATE = (ASKED * 1 + 1024 * 5) / 1e6  # the Anthropic default limit: 1024


def _openai(**usage: Any) -> Reply:
    body = chat_completion(ANSWER)
    body["usage"] = {"prompt_tokens": 10, "completion_tokens": 5, **usage}
    return Reply(json=body)


def _anthropic(**usage: Any) -> Reply:
    body = anthropic_message(ANSWER)
    body["usage"] = {"input_tokens": 10, "output_tokens": 5, **usage}
    return Reply(json=body)


BAD_COUNTS: dict[str, tuple[str, Any]] = {
    "negative": ("completion_tokens", -5),
    "a float": ("completion_tokens", 5.5),
    "text": ("prompt_tokens", "10"),
    "10^400": ("prompt_tokens", 10**400),
    "past a billion": ("completion_tokens", 10**10),
    "a boolean": ("prompt_tokens", True),
}
ANTHROPIC_FIELD = {"completion_tokens": "output_tokens", "prompt_tokens": "input_tokens"}


@pytest.mark.parametrize("field, value", BAD_COUNTS.values(), ids=BAD_COUNTS)
@pytest.mark.parametrize("backend", ["openai", "anthropic"])
async def test_token_counts_that_cannot_price_a_call_fail_it_at_its_estimated_price(
    backend: str, field: str, value: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    server_type = OpenAIServer if backend == "openai" else AnthropicServer
    with server_type() as server:
        for name, env in server.env().items():
            monkeypatch.setenv(name, env)
        if backend == "openai":
            server.script(_openai(**{field: value}))
            named, estimate = field, OPENAI_ESTIMATE
        else:
            named = ANTHROPIC_FIELD[field]
            server.script(_anthropic(**{named: value}))
            estimate = ANTHROPIC_ESTIMATE
        cache = MemoryCache()
        async with ProviderSession(retry=FAST_RETRY, cache=cache) as session:
            with pytest.raises(UnpricedAnswer) as caught:
                await complete_json(PROMPT, OUTPUTS, backend=backend, session=session)
            spent = session.budget.spent
    message = str(caught.value)
    assert f"the answer's token counts cannot price the call: usage.{named}:" in message
    assert "\n" not in message and len(message) < 400
    assert math.isfinite(caught.value.cost)
    assert caught.value.cost == pytest.approx(estimate)  # the call was paid: counted
    assert spent == pytest.approx(estimate)
    assert cache.entries == {}
    assert server.count() == 1  # not asked again


@pytest.mark.parametrize("backend", ["openai", "anthropic"])
async def test_an_answer_that_is_not_a_completion_is_asked_again_then_fails(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    server_type = OpenAIServer if backend == "openai" else AnthropicServer
    bodies: dict[str, list[Any]] = {
        "openai": [
            {"choices": {"message": "x"}},
            {"choices": []},
            {"choices": [{"message": {"content": 5}}]},
            {"error": {"message": "overloaded"}},
        ],
        "anthropic": [
            {"content": {"type": "tool_use"}},
            {"content": [{"name": "lead_fields"}]},
            {"type": "error", "error": {"message": "overloaded"}},
        ],
    }
    with server_type() as server:
        for name, env in server.env().items():
            monkeypatch.setenv(name, env)
        async with ProviderSession(retry=FAST_RETRY, cache=MemoryCache()) as session:
            for body in bodies[backend]:
                server.script(Reply(json=body), Reply(json=body))
                with pytest.raises(InvalidAnswer) as caught:
                    await complete_json(PROMPT, OUTPUTS, backend=backend, session=session)
                shape = "a chat completion" if backend == "openai" else "a Messages response"
                assert f"gave no valid answer after 2 attempts: answer is not {shape}: " in str(
                    caught.value
                )
                assert "\n" not in str(caught.value)


async def test_ten_thousand_choices_or_blocks_read_only_the_first(
    openai_server: OpenAIServer, anthropic_server: AnthropicServer, session: ProviderSession
) -> None:
    body = chat_completion(ANSWER)
    body["choices"] = body["choices"] * 10_000
    openai_server.script(Reply(json=body))
    response = await complete_json(PROMPT, OUTPUTS, backend="openai", session=session)
    assert response.data == ANSWER
    message = anthropic_message(ANSWER)
    message["content"] = [{"type": "text", "text": "x"}] * 10 + message["content"] * 1_000
    anthropic_server.script(Reply(json=message))
    response = await complete_json(PROMPT, OUTPUTS, backend="anthropic", session=session)
    assert response.data == ANSWER
