"""Web search through Serper or Brave, normalised to ``[{title, url, snippet}]``.

Each answer is parsed once into its provider's model (:class:`SerperAnswer`,
:class:`BraveAnswer`) after its result list is cut to the count asked: an error body,
``organic`` as an object or a result without a URL is an :class:`InvalidAnswer` (asked
once more, charged, never cached), not an empty result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr

from lead_pipeline.providers.answer import AnswerTooLarge, text_excerpt
from lead_pipeline.providers.errors import BudgetExceeded, InvalidAnswer, NotConfigured
from lead_pipeline.providers.http import request_json
from lead_pipeline.providers.models import Answer, Text, parse_answer
from lead_pipeline.providers.policy import Paid, ProviderResponse, Tab
from lead_pipeline.providers.retry import Try, retrying
from lead_pipeline.providers.session import ProviderSession, opens_session
from lead_pipeline.settings import Settings, setting

SERPER = "serper"
BRAVE = "brave"


@dataclass(frozen=True)
class SearchBackend:
    name: str
    key_env: str
    base_url_env: str
    max_num: int

    def key(self, config: Settings | None = None) -> SecretStr | None:
        key: SecretStr | None = setting(self.key_env, config)
        return key

    def base_url(self, config: Settings | None = None) -> str:
        return str(setting(self.base_url_env, config))


BACKENDS = {
    SERPER: SearchBackend(SERPER, "SERPER_API_KEY", "SERPER_BASE_URL", 100),
    BRAVE: SearchBackend(BRAVE, "BRAVE_API_KEY", "BRAVE_BASE_URL", 20),
}


def configured_search_providers(config: Settings | None = None) -> list[str]:
    """Search providers with a key set in ``config`` (the environment's by default), in
    preference order."""
    return [name for name, b in BACKENDS.items() if b.key(config) is not None]


def search_env_vars() -> list[str]:
    """The variables that would configure web search, for "not configured" messages."""
    return [b.key_env for b in BACKENDS.values()]


def normalise_query(query: str) -> str:
    """Whitespace collapsed, so trivially different spellings share a cache entry."""
    return " ".join(query.split())


class _Result(Answer):
    """One result as both providers send it; the URL field's name differs."""

    title: Text | None = None

    def normalised(self, url: str, snippet: str | None) -> dict[str, str]:
        return {
            "title": (self.title or "").strip(),
            "url": url.strip(),
            "snippet": (snippet or "").strip(),
        }


class SerperResult(_Result):
    link: Annotated[str, Field(min_length=1, max_length=10_000)]
    snippet: Text | None = None


class SerperAnswer(Answer):
    """Every Serper answer echoes ``searchParameters``; an error body (``{"message":
    "Not enough credits", "statusCode": 400}``, sometimes with a 200) does not."""

    searchParameters: dict[str, Any]
    organic: list[SerperResult] = []


class BraveResult(_Result):
    url: Annotated[str, Field(min_length=1, max_length=10_000)]
    description: Text | None = None


class BraveWeb(Answer):
    results: list[BraveResult] = []


class BraveAnswer(Answer):
    """Brave's WebSearchApiResponse: ``type`` is always ``"search"``; ``web`` is absent when
    nothing was found."""

    type: Literal["search"]
    web: BraveWeb | None = None


def _first(data: Any, path: tuple[str, ...], num: int) -> Any:
    """``data`` with the list at ``path`` cut to ``num`` items: a provider answering 10,000
    results when 10 were asked keeps 10, and only those are checked and stored."""
    if not isinstance(data, dict) or not path:
        return data
    head, *rest = path
    inner = data.get(head)
    if rest:
        return {**data, head: _first(inner, tuple(rest), num)} if isinstance(inner, dict) else data
    return {**data, head: inner[:num]} if isinstance(inner, list) else data


def _error_body(data: Any, provider: str, key: SecretStr | None) -> None:
    """An error sent as an answer (with a 200): :class:`InvalidAnswer` naming its message."""
    if isinstance(data, dict):
        message = data.get("message") or data.get("error")
        if isinstance(message, dict):
            message = message.get("message") or message.get("detail")
        if isinstance(message, str) and message.strip():
            raise InvalidAnswer(
                f"{provider}: answered with an error instead of results: "
                f"{text_excerpt(message.strip(), 200, [key])}",
                provider=provider,
                secrets=[key],
            )


def parse_serper(data: Any, num: int = 10, key: SecretStr | None = None) -> list[dict[str, str]]:
    """Serper's answer, its first ``num`` results, normalised; :class:`InvalidAnswer` if it
    is an error or does not fit :class:`SerperAnswer`."""
    if not (isinstance(data, dict) and "searchParameters" in data):
        _error_body(data, SERPER, key)
    answer = parse_answer(SerperAnswer, _first(data, ("organic",), num), SERPER)
    return [r.normalised(r.link, r.snippet) for r in answer.organic]


def parse_brave(data: Any, num: int = 10, key: SecretStr | None = None) -> list[dict[str, str]]:
    """Brave's answer, its first ``num`` results, normalised; :class:`InvalidAnswer` if it
    is an error or does not fit :class:`BraveAnswer`."""
    if not (isinstance(data, dict) and data.get("type") == "search"):
        _error_body(data, BRAVE, key)
    answer = parse_answer(BraveAnswer, _first(data, ("web", "results"), num), BRAVE)
    results = answer.web.results if answer.web is not None else []
    return [r.normalised(r.url, r.description) for r in results]


def search_request(
    provider: str, query: str, num: int = 10, config: Settings | None = None
) -> dict[str, Any]:
    """What a search is cached under: base URL, normalised query, capped count (no key)."""
    backend = BACKENDS[provider]
    return {
        "base_url": backend.base_url(config),
        "q": normalise_query(query),
        "num": max(1, min(int(num), backend.max_num)),
    }


@opens_session
async def web_search(
    query: str,
    *,
    provider: str | None = None,
    num: int = 10,
    session: ProviderSession | None = None,
    use_cache: bool = True,
) -> ProviderResponse:
    """Search the web; ``data`` is a list of ``{"title", "url", "snippet"}``.

    ``provider`` None picks the first configured. An answer whose body is not
    JSON is asked once more before :class:`InvalidAnswer`.
    """
    assert session is not None  # opens_session passes one
    config = session.settings
    if provider is None:
        configured = configured_search_providers(config)
        if not configured:
            raise NotConfigured("web search", search_env_vars())
        provider = configured[0]
    backend = BACKENDS.get(provider)
    if backend is None:
        raise ValueError(f"unknown search provider {provider!r}; use one of {list(BACKENDS)}")
    key = backend.key(config)
    if key is None:
        raise NotConfigured(f"web search via {provider}", [backend.key_env])
    q = normalise_query(query)
    count = max(1, min(int(num), backend.max_num))
    base = backend.base_url(config)
    policy = session.policy(provider)

    async def once() -> Any:
        if provider == SERPER:
            answer = await request_json(
                session.client,
                policy,
                "POST",
                f"{base}/search",
                headers={"X-API-KEY": key.get_secret_value()},
                json_body={"q": q, "num": count},
                secret=key,
                key_env=backend.key_env,
                timeouts=session.timeouts,
                max_bytes=session.answer_limit(provider),
            )
            return parse_serper(answer.data, count, key)
        answer = await request_json(
            session.client,
            policy,
            "GET",
            f"{base}/res/v1/web/search",
            headers={"X-Subscription-Token": key.get_secret_value(), "Accept": "application/json"},
            params={"q": q, "count": count},
            secret=key,
            key_env=backend.key_env,
            timeouts=session.timeouts,
            max_bytes=session.answer_limit(provider),
        )
        return parse_brave(answer.data, count, key)

    price = policy.prices.request_cost(provider)

    async def call(tab: Tab) -> Paid:
        tries = 0

        async def ask(attempt: Try) -> Any:
            nonlocal tries
            if attempt.number > 1:  # asked again: another billed request
                try:
                    await tab.reserve(price)
                except BudgetExceeded as exc:
                    exc.cost = tries * price
                    raise
            tries = attempt.number
            return await once()

        try:
            results = await retrying(
                ask, policy.retry, retry_on=InvalidAnswer, max_attempts=2, wait=False
            )
        except (InvalidAnswer, AnswerTooLarge) as exc:
            exc.cost = tries * price  # every answer was billed
            raise
        return Paid(results, tries * price)

    return await policy.run(
        search_request(provider, query, num, config), call, price=price, use_cache=use_cache
    )
