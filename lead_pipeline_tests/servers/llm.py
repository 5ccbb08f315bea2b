"""OpenAI chat-completions and Anthropic Messages stand-ins."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from lead_pipeline_tests.servers.base import RecordedRequest, Reply, StubServer

DEFAULT_KEY = "sk-test-0123456789abcdef"

# A responder receives the decoded request body and returns the answer: a dict
# (the structured answer), a str (raw text content, e.g. broken JSON) or a Reply.
Responder = Callable[[dict[str, Any]], "dict[str, Any] | str | Reply"]


def schema_answer(schema: dict[str, Any]) -> Any:
    """A deterministic value that satisfies ``schema`` (the default answer)."""
    types = schema.get("type")
    kind = next((t for t in types if t != "null"), "null") if isinstance(types, list) else types
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "object":
        return {k: schema_answer(v) for k, v in (schema.get("properties") or {}).items()}
    if kind == "array":
        return []
    if kind == "boolean":
        return True
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        low, high = schema.get("minimum", 0.0), schema.get("maximum", 1.0)
        return (low + high) / 2
    if kind == "string":
        return "stub"
    return None


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


def _unauthorized(presented: str | None, echo_key: bool) -> Reply:
    shown = presented if echo_key else "***"
    return Reply(
        status=401,
        json={
            "error": {
                "message": f"Incorrect API key provided: {shown}. You can find your API key "
                "in your account settings.",
                "type": "invalid_request_error",
                "code": "invalid_api_key",
            }
        },
    )


class _LLMServer(StubServer):
    def __init__(
        self,
        responder: Responder | None = None,
        *,
        api_key: str = DEFAULT_KEY,
        echo_key: bool = True,
        usage: tuple[int, int] | None = None,
        cached_tokens: int = 0,
        **knobs: Any,
    ) -> None:
        """``usage`` fixes (input, output) tokens per answer; by default they are
        counted as characters / 4. ``cached_tokens`` of the input are reported as
        read from the prompt cache, each API in its own words. ``echo_key`` puts
        the presented key in 401 bodies, the worst case a client must survive."""
        super().__init__(**knobs)
        self.responder = responder
        self.api_key = api_key
        self.echo_key = echo_key
        self.usage = usage
        self.cached_tokens = cached_tokens

    def _usage(self, request_text: str, answer_text: str) -> tuple[int, int]:
        return self.usage or (_tokens(request_text), _tokens(answer_text))

    def env(self) -> dict[str, str]:
        raise NotImplementedError


class OpenAIServer(_LLMServer):
    """``POST /v1/chat/completions`` with ``Authorization: Bearer``; set
    ``OPENAI_BASE_URL`` to :attr:`base_url` (it ends in ``/v1``)."""

    model = "gpt-4o-mini-2024-07-18"

    @property
    def base_url(self) -> str:
        return self.root_url + "/v1"

    def env(self) -> dict[str, str]:
        return {"OPENAI_BASE_URL": self.base_url, "OPENAI_API_KEY": self.api_key}

    def handle(self, request: RecordedRequest) -> Reply:
        if request.path != "/v1/chat/completions" or request.method != "POST":
            return Reply(status=404, json={"error": {"message": f"unknown path {request.path}"}})
        auth = request.headers.get("authorization", "")
        presented = auth.removeprefix("Bearer ").strip() if auth else None
        if presented != self.api_key:
            return _unauthorized(presented, self.echo_key)
        body = request.json
        if self.responder is not None:
            answer = self.responder(body)
        else:
            schema = body["response_format"]["json_schema"]["schema"]
            answer = schema_answer(schema)
        if isinstance(answer, Reply):
            return answer
        content = answer if isinstance(answer, str) else json.dumps(answer)
        prompt_text = " ".join(str(m.get("content", "")) for m in body.get("messages", []))
        prompt_tokens, completion_tokens = self._usage(prompt_text, content)
        return Reply(
            json=chat_completion(
                content,
                model=self.model,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                cached_tokens=min(self.cached_tokens, prompt_tokens),
            )
        )


def chat_completion(
    content: str | dict[str, Any],
    *,
    model: str = OpenAIServer.model,
    prompt_tokens: int = 10,
    completion_tokens: int = 5,
    finish_reason: str = "stop",
    cached_tokens: int = 0,
) -> dict[str, Any]:
    """The body of a chat completion, for scripting odd answers (``finish_reason="length"``).

    ``prompt_tokens`` counts every input token; ``cached_tokens`` of them were read
    from the prompt cache (``usage.prompt_tokens_details``), as OpenAI reports it.
    """
    text = content if isinstance(content, str) else json.dumps(content)
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "finish_reason": finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": cached_tokens, "audio_tokens": 0},
        },
    }


class AnthropicServer(_LLMServer):
    """``POST /v1/messages`` with ``x-api-key`` and ``anthropic-version``; answers
    with the forced tool's ``tool_use`` block. Set ``ANTHROPIC_BASE_URL`` to
    :attr:`base_url`."""

    model = "claude-haiku-4-5-20251001"

    def env(self) -> dict[str, str]:
        return {"ANTHROPIC_BASE_URL": self.base_url, "ANTHROPIC_API_KEY": self.api_key}

    def handle(self, request: RecordedRequest) -> Reply:
        if request.path != "/v1/messages" or request.method != "POST":
            return Reply(status=404, json={"type": "error", "error": {"message": "not found"}})
        presented = request.headers.get("x-api-key")
        if presented != self.api_key:
            reply = _unauthorized(presented, self.echo_key)
            reply.json = {"type": "error", "error": {**reply.json["error"], "type": "auth"}}
            return reply
        if not request.headers.get("anthropic-version"):
            return Reply(
                status=400,
                json={"type": "error", "error": {"message": "anthropic-version header required"}},
            )
        body = request.json
        if "max_tokens" not in body:
            return Reply(status=400, json={"type": "error", "error": {"message": "max_tokens"}})
        tool = body["tools"][0]
        if self.responder is not None:
            answer = self.responder(body)
        else:
            answer = schema_answer(tool["input_schema"])
        if isinstance(answer, Reply):
            return answer
        prompt_text = " ".join(str(m.get("content", "")) for m in body.get("messages", []))
        input_tokens, output_tokens = self._usage(prompt_text, json.dumps(answer))
        return Reply(
            json=anthropic_message(
                answer,
                tool=tool["name"],
                model=self.model,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                cache_read_input_tokens=min(self.cached_tokens, input_tokens),
            )
        )


def anthropic_message(
    tool_input: Any,
    *,
    tool: str = "lead_fields",
    model: str = AnthropicServer.model,
    input_tokens: int = 10,
    output_tokens: int = 5,
    stop_reason: str = "tool_use",
    cache_read_input_tokens: int = 0,
) -> dict[str, Any]:
    """The body of a Messages answer calling ``tool`` (``stop_reason="max_tokens"`` to truncate).

    Of ``input_tokens``, ``cache_read_input_tokens`` are reported apart, as Anthropic
    does: its ``input_tokens`` counts only the input not read from the cache.
    """
    content: list[dict[str, Any]] = []
    if stop_reason != "max_tokens" or tool_input is not None:
        content.append({"type": "tool_use", "id": "toolu_stub", "name": tool, "input": tool_input})
    return {
        "id": "msg_stub",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {
            "input_tokens": input_tokens - cache_read_input_tokens,
            "cache_read_input_tokens": cache_read_input_tokens,
            "cache_creation_input_tokens": 0,
            "output_tokens": output_tokens,
        },
    }
