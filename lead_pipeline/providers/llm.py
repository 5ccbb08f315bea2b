"""Structured answers from an LLM: OpenAI-compatible chat completions or Anthropic Messages.

Both backends are asked for a JSON object matching the schema built from the
node's output columns; the answer is validated here, so a node receives either a
dict with exactly its columns or an exception it can record against the row.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, Field, SecretStr, ValidationError

from lead_pipeline.providers.cost import Usage
from lead_pipeline.providers.errors import (
    BudgetExceeded,
    InvalidAnswer,
    NotConfigured,
    UnpricedAnswer,
)
from lead_pipeline.providers.http import request_json
from lead_pipeline.providers.models import Answer, TokenCount, does_not_fit
from lead_pipeline.providers.policy import Paid, ProviderResponse, Tab
from lead_pipeline.providers.redact import get_logger
from lead_pipeline.providers.retry import Try, retrying
from lead_pipeline.providers.schema import build_schema, validate
from lead_pipeline.providers.session import ProviderSession, opens_session
from lead_pipeline.settings import Settings, get_settings

OPENAI = "openai"
ANTHROPIC = "anthropic"
BACKENDS = (OPENAI, ANTHROPIC)
KEY_ENV = {OPENAI: "OPENAI_API_KEY", ANTHROPIC: "ANTHROPIC_API_KEY"}
DEFAULT_MODEL = {OPENAI: "gpt-4o-mini", ANTHROPIC: "claude-haiku-4-5"}
ANTHROPIC_VERSION = "2023-06-01"
# For a call whose answer reports unusable token counts: its upper price, as ``--plan``
# estimates it (engine/estimates.py uses these).
CHARS_PER_TOKEN = 4
ANSWER_TOKENS = 400
M = TypeVar("M", bound=BaseModel)
# An OpenAI call's answer tokens when the node sets no max_tokens (Anthropic's default is
# 1024): sent as ``max_completion_tokens``, so the call's price has a most to reserve
# against --max-cost; room for a lead's fields, and for a reasoning model's thinking.
ANSWER_TOKENS_BOUND = 4096
# Tokens a provider adds around what we send (roles, the schema or tool instructions);
# with one token per byte sent, the most a question's input can count.
FRAMING_TOKENS = 1_000
DEFAULT_SYSTEM = (
    "You enrich rows of a B2B lead list. Answer only from the information given; "
    "when it is not enough, say so in the answer's fields rather than guessing."
)


def _key(backend: str, config: Settings) -> SecretStr | None:
    return config.openai_api_key if backend == OPENAI else config.anthropic_api_key


def configured_llm_backends(config: Settings | None = None) -> list[str]:
    """Backends with a key set in ``config`` (the environment's by default), in preference
    order."""
    config = config or get_settings()
    return [b for b in BACKENDS if _key(b, config) is not None]


def llm_configured(config: Settings | None = None) -> bool:
    return bool(configured_llm_backends(config))


def resolve_backend(backend: str | None = None, config: Settings | None = None) -> str:
    """The backend to use: the argument, ``LEAD_PIPELINE_LLM_BACKEND``, else the first
    configured one. Raises :class:`NotConfigured` naming the key to set."""
    config = config or get_settings()
    chosen = backend or config.llm_backend
    if chosen is not None:
        chosen = chosen.strip().lower()
        if chosen not in BACKENDS:
            raise ValueError(f"unknown LLM backend {chosen!r}; use one of {list(BACKENDS)}")
        if _key(chosen, config) is None:
            raise NotConfigured(f"the {chosen} LLM backend", [KEY_ENV[chosen]])
        return chosen
    configured = configured_llm_backends(config)
    if not configured:
        raise NotConfigured("the LLM", [KEY_ENV[b] for b in BACKENDS])
    return configured[0]


def resolve_model(backend: str, model: str | None = None, config: Settings | None = None) -> str:
    """``model``, else the environment's choice for this backend, else a small default.

    ``LEAD_PIPELINE_LLM_MODEL`` applies to Anthropic only when it names a Claude
    model, so one variable set for OpenAI does not send a GPT name to Anthropic.
    """
    if model:
        return model
    config = config or get_settings()
    if backend == ANTHROPIC:
        generic = config.llm_model
        return (
            config.anthropic_model
            or (generic if generic and generic.startswith("claude") else None)
            or DEFAULT_MODEL[ANTHROPIC]
        )
    return config.llm_model or DEFAULT_MODEL[OPENAI]


def _base_url(backend: str, config: Settings) -> str:
    return config.openai_base_url if backend == OPENAI else config.anthropic_base_url


class _Attempt:
    """One answer's verdict: the parsed value, or why it must be asked again.

    ``unpriced`` says why the answer's token counts cannot price the call (negative,
    past a billion, not integers): the call is then counted at its estimated price and
    failed without asking again (the same server would miscount again)."""

    def __init__(
        self,
        value: Any,
        problem: str | None,
        truncated: bool,
        usage: Usage,
        model: str | None,
        unpriced: str | None = None,
    ) -> None:
        self.value = value
        self.problem = problem
        self.truncated = truncated
        self.usage = usage
        self.model = model
        self.unpriced = unpriced


def _check(value: Any, schema: Mapping[str, Any]) -> str | None:
    problems = validate(value, schema)
    return "; ".join(problems[:5]) if problems else None


class OpenAIUsageDetails(Answer):
    cached_tokens: TokenCount | None = None


class OpenAIUsage(Answer):
    prompt_tokens: TokenCount | None = None  # cached tokens included
    completion_tokens: TokenCount | None = None
    prompt_tokens_details: OpenAIUsageDetails | None = None

    def usage(self) -> Usage:
        details = self.prompt_tokens_details
        return Usage(
            self.prompt_tokens or 0,
            self.completion_tokens or 0,
            cached_input_tokens=(details.cached_tokens or 0) if details else 0,
        )


class OpenAIMessage(Answer):
    content: str | None = None
    refusal: str | None = None


class OpenAIChoice(Answer):
    message: OpenAIMessage
    finish_reason: str | None = None


class OpenAICompletion(Answer):
    model: str | None = None
    choices: Annotated[list[OpenAIChoice], Field(min_length=1)]


class AnthropicUsage(Answer):
    input_tokens: TokenCount | None = None
    output_tokens: TokenCount | None = None
    cache_read_input_tokens: TokenCount | None = None
    cache_creation_input_tokens: TokenCount | None = None

    def usage(self) -> Usage:
        # Anthropic counts cache reads and writes apart from input_tokens; Usage counts
        # every input token and says which were cached.
        read = self.cache_read_input_tokens or 0
        written = self.cache_creation_input_tokens or 0
        return Usage(
            (self.input_tokens or 0) + written + read,
            self.output_tokens or 0,
            cached_input_tokens=read,
            cache_write_tokens=written,
        )


class AnthropicBlock(Answer):
    type: str
    name: str | None = None
    input: Any = None


class AnthropicMessage(Answer):
    model: str | None = None
    content: list[AnthropicBlock]
    stop_reason: str | None = None


MAX_BLOCKS = 16  # we ask for one tool call; the blocks past these are never read


def _usage(data: Any, model: type[OpenAIUsage | AnthropicUsage]) -> tuple[Usage, str | None]:
    """The answer's token counts, or zero and why they cannot price the call."""
    raw = data.get("usage") if isinstance(data, dict) else None
    if raw is None:
        return Usage(), None  # a server that reports no usage (self-hosted): counted at 0
    try:
        return model.model_validate(raw).usage(), None
    except ValidationError as exc:
        return Usage(), f"usage.{does_not_fit(exc)}"


def _shape(data: Any, model: type[M]) -> tuple[M | None, str | None]:
    try:
        return model.model_validate(data), None
    except ValidationError as exc:
        return None, does_not_fit(exc)


def _openai_attempt(data: Any, schema: Mapping[str, Any]) -> _Attempt:
    usage, unpriced = _usage(data, OpenAIUsage)
    if isinstance(data, dict) and isinstance(data.get("choices"), list):
        data = {**data, "choices": data["choices"][:1]}  # one was asked for
    completion, why = _shape(data, OpenAICompletion)
    if completion is None:
        return _Attempt(
            None, f"answer is not a chat completion: {why}", False, usage, None, unpriced
        )
    model = completion.model
    choice = completion.choices[0]
    message = choice.message
    if message.refusal:
        return _Attempt(None, f"model refused: {message.refusal}", False, usage, model, unpriced)
    content = message.content
    truncated = choice.finish_reason == "length"
    if content is None:
        return _Attempt(None, "answer has no text content", truncated, usage, model, unpriced)
    try:
        value = json.loads(content)
    except ValueError:
        why = "answer was cut off (finish_reason=length)" if truncated else "answer is not JSON"
        return _Attempt(None, why, truncated, usage, model, unpriced)
    return _Attempt(value, _check(value, schema), truncated, usage, model, unpriced)


def _anthropic_attempt(data: Any, schema: Mapping[str, Any], tool: str) -> _Attempt:
    usage, unpriced = _usage(data, AnthropicUsage)
    if isinstance(data, dict) and isinstance(data.get("content"), list):
        data = {**data, "content": data["content"][:MAX_BLOCKS]}
    message, why = _shape(data, AnthropicMessage)
    if message is None:
        return _Attempt(
            None, f"answer is not a Messages response: {why}", False, usage, None, unpriced
        )
    truncated = message.stop_reason == "max_tokens"
    calls = [b for b in message.content if b.type == "tool_use" and b.name == tool]
    if not calls:
        why = "answer was cut off (stop_reason=max_tokens)" if truncated else "no tool_use block"
        return _Attempt(None, why, truncated, usage, message.model, unpriced)
    value = calls[0].input
    return _Attempt(value, _check(value, schema), truncated, usage, message.model, unpriced)


def estimated_usage(text_chars: int, max_tokens: int | None) -> Usage:
    """A call's upper token counts before its answer: the question at 4 characters a token,
    and the answer at its token limit, else 400 (what ``--plan`` prices, too)."""
    return Usage(max(1, text_chars // CHARS_PER_TOKEN), max_tokens or ANSWER_TOKENS)


@dataclass(frozen=True)
class Question:
    """One structured question as both lanes send it: the synchronous call and a batch line.

    :meth:`request` is its identity in the response cache, so a batch answer and a
    synchronous one answer each other; :meth:`body` is the provider's request body.
    """

    backend: str
    model: str
    system: str
    prompt: str
    schema: Mapping[str, Any]
    schema_name: str
    max_tokens: int | None
    temperature: float | None
    base_url: str

    def request(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "model": self.model,
            "system": self.system,
            "prompt": self.prompt,
            "schema": self.schema,
            "schema_name": self.schema_name,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
        }

    def as_dict(self) -> dict[str, Any]:
        """Its fields, for the store (``Question(**d)`` makes it again). Shallow: the schema
        is shared, not copied, as ``dataclasses.asdict`` would for every row of a batch."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @property
    def first_limit(self) -> int:
        """The answer tokens the first ask allows (sent, so its price has a most)."""
        return self.max_tokens if self.max_tokens is not None else ANSWER_TOKENS_BOUND

    def most_usage(self, extra: list[dict[str, str]], limit: int) -> Usage:
        """The most one question can count: every byte sent a token (a byte-level tokenizer
        never makes more), plus the provider's framing, and ``limit`` answer tokens."""
        sent = self.system + self.prompt + json.dumps(self.schema)
        sent += "".join(m["content"] for m in extra)
        return Usage(len(sent.encode()) + FRAMING_TOKENS, limit)

    def body(self, extra: list[dict[str, str]], limit: int) -> dict[str, Any]:
        """The chat-completions or Messages request body, answer tokens bounded by ``limit``."""
        if self.backend == OPENAI:
            body: dict[str, Any] = {
                "model": self.model,
                "messages": [
                    *([{"role": "system", "content": self.system}] if self.system else []),
                    {"role": "user", "content": self.prompt},
                    *extra,
                ],
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {
                        "name": self.schema_name,
                        "schema": self.schema,
                        "strict": True,
                    },
                },
                "max_completion_tokens": limit,  # bounds the price the call reserved
            }
        else:
            body = {
                "model": self.model,
                "max_tokens": limit,
                "messages": [{"role": "user", "content": self.prompt}, *extra],
                "tools": [
                    {
                        "name": self.schema_name,
                        "description": "Record the answer. Always call this tool exactly once.",
                        "input_schema": self.schema,
                    }
                ],
                "tool_choice": {"type": "tool", "name": self.schema_name},
            }
            if self.system:
                body["system"] = self.system
        if self.temperature is not None:
            body["temperature"] = self.temperature
        return body


def question(
    prompt: str,
    outputs: Mapping[str, str | Mapping[str, Any]],
    *,
    backend: str | None = None,
    model: str | None = None,
    system: str | None = None,
    config: Settings | None = None,
    schema_name: str = "lead_fields",
    max_tokens: int | None = None,
    temperature: float | None = None,
) -> Question:
    """The question :func:`complete_json` asks, resolved against ``config``'s backends."""
    config = config or get_settings()
    chosen = resolve_backend(backend, config)
    tokens = max_tokens if max_tokens is not None else (1024 if chosen == ANTHROPIC else None)
    return Question(
        backend=chosen,
        model=resolve_model(chosen, model, config),
        system=DEFAULT_SYSTEM if system is None else system,
        prompt=prompt,
        schema=build_schema(outputs),
        schema_name=schema_name,
        max_tokens=tokens,
        temperature=temperature,
        base_url=_base_url(chosen, config),
    )


@dataclass(frozen=True)
class BatchAnswer:
    """One batch line's answer, read as a synchronous answer is: the value, or why not."""

    value: Any
    problem: str | None
    usage: Usage
    model: str | None


def read_answer(q: Question, data: Any) -> BatchAnswer:
    """Judge a response body the provider returned for ``q`` (a batch line's), with the same
    reader and schema check a synchronous answer passes."""
    if q.backend == OPENAI:
        attempt = _openai_attempt(data, q.schema)
    else:
        attempt = _anthropic_attempt(data, q.schema, q.schema_name)
    problem = attempt.problem or (
        None if attempt.unpriced is None else f"token counts unusable: {attempt.unpriced}"
    )
    return BatchAnswer(attempt.value, problem, attempt.usage, attempt.model)


@opens_session
async def complete_json(
    prompt: str,
    outputs: Mapping[str, str | Mapping[str, Any]],
    *,
    backend: str | None = None,
    model: str | None = None,
    system: str | None = None,
    session: ProviderSession | None = None,
    schema_name: str = "lead_fields",
    max_tokens: int | None = None,
    temperature: float | None = None,
    use_cache: bool = True,
) -> ProviderResponse:
    """Ask the LLM for a JSON object with exactly the ``outputs`` columns.

    ``outputs`` maps column to type (see :func:`schema.type_schema`). ``data`` of
    the result is the validated dict. An invalid or truncated answer is asked once
    more (with twice the token allowance if it was cut off); a second failure
    raises :class:`InvalidAnswer` whose ``cost`` is what both attempts spent.
    """
    assert session is not None  # opens_session passes one
    config = session.settings
    q = question(
        prompt,
        outputs,
        backend=backend,
        model=model,
        system=system,
        config=config,
        schema_name=schema_name,
        max_tokens=max_tokens,
        temperature=temperature,
    )
    chosen, model_name, schema, system_text = q.backend, q.model, q.schema, q.system
    base = q.base_url
    request = q.request()
    policy = session.policy(chosen)
    key = _key(chosen, config)
    assert key is not None  # resolve_backend checked

    async def ask(extra: list[dict[str, str]], limit: int) -> _Attempt:
        body = q.body(extra, limit)
        if chosen == OPENAI:
            answer = await request_json(
                session.client,
                policy,
                "POST",
                f"{base}/chat/completions",
                headers={"Authorization": f"Bearer {key.get_secret_value()}"},
                json_body=body,
                secret=key,
                key_env=KEY_ENV[OPENAI],
                timeouts=session.timeouts,
                max_bytes=session.answer_limit(chosen),
            )
            return _openai_attempt(answer.data, schema)
        answer = await request_json(
            session.client,
            policy,
            "POST",
            f"{base}/v1/messages",
            headers={"x-api-key": key.get_secret_value(), "anthropic-version": ANTHROPIC_VERSION},
            json_body=body,
            secret=key,
            key_env=KEY_ENV[ANTHROPIC],
            timeouts=session.timeouts,
            max_bytes=session.answer_limit(chosen),
        )
        return _anthropic_attempt(answer.data, schema, schema_name)

    def most(extra: list[dict[str, str]], limit: int) -> float:
        return policy.prices.token_cost(model_name, q.most_usage(extra, limit), provider=chosen)

    first_limit = q.first_limit

    async def call(tab: Tab) -> Paid:
        spent = 0.0
        usage = Usage()
        extra: list[dict[str, str]] = []
        limit = first_limit

        async def once(attempt: Try) -> Paid:
            """One question; an invalid answer raises, after setting up the next question."""
            nonlocal spent, usage, extra, limit
            if attempt.number > 1:  # another billed question: reserve its most first
                try:
                    await tab.reserve(lambda: most(extra, limit))
                except BudgetExceeded as exc:
                    exc.cost = spent
                    raise
            try:
                result = await ask(extra, limit)
            except InvalidAnswer as exc:  # the body itself was not JSON
                result = _Attempt(None, exc.message, True, Usage(), None)
            if result.unpriced is not None:
                guess = estimated_usage(len(system_text or "") + len(prompt), limit)
                spent += policy.prices.token_cost(model_name, guess, provider=chosen)
                raise UnpricedAnswer(
                    f"{chosen} ({model_name}): the answer's token counts cannot price the "
                    f"call: {result.unpriced}; counted at its estimated price, "
                    f"${spent:.4f} in all",
                    provider=chosen,
                    cost=spent,
                    secrets=[key],
                )
            spent += policy.prices.token_cost(model_name, result.usage, provider=chosen)
            usage = usage + result.usage
            if result.problem is None:
                return Paid(result.value, spent, usage, result.model or model_name)
            problem = result.problem
            get_logger().info(
                "%s: invalid answer (attempt %d of %d): %s",
                chosen,
                attempt.number,
                attempt.of,
                problem,
            )
            if result.truncated:
                limit *= 2  # cut off: the same question with room for the whole answer
            elif result.value is not None:
                extra = [
                    {"role": "assistant", "content": json.dumps(result.value)},
                    {
                        "role": "user",
                        "content": f"That answer does not match the schema ({problem}). "
                        "Answer again with every field and the right types.",
                    },
                ]
            raise InvalidAnswer(
                f"{chosen} ({model_name}) gave no valid answer after {attempt.number} "
                f"attempts: {problem}",
                provider=chosen,
                cost=spent,
                secrets=[key],
            )

        return await retrying(
            once, policy.retry, retry_on=InvalidAnswer, max_attempts=2, wait=False
        )

    return await policy.run(request, call, price=lambda: most([], first_limit), use_cache=use_cache)
