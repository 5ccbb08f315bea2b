"""Web search through Serper or Brave, normalised to ``[{title, url, snippet}]``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from lead_pipeline.providers.errors import InvalidAnswer, NotConfigured
from lead_pipeline.providers.http import request_json
from lead_pipeline.providers.policy import Paid, ProviderResponse
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


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _results(items: Any, url_field: str, snippet_field: str) -> list[dict[str, str]]:
    if not isinstance(items, list):
        return []
    out = []
    for item in items:
        if isinstance(item, dict) and _text(item.get(url_field)):
            out.append(
                {
                    "title": _text(item.get("title")),
                    "url": _text(item.get(url_field)),
                    "snippet": _text(item.get(snippet_field)),
                }
            )
    return out


def parse_serper(data: Any) -> list[dict[str, str]]:
    if not isinstance(data, dict):
        raise InvalidAnswer("serper: answer is not a JSON object", provider=SERPER)
    return _results(data.get("organic"), "link", "snippet")


def parse_brave(data: Any) -> list[dict[str, str]]:
    if not isinstance(data, dict):
        raise InvalidAnswer("brave: answer is not a JSON object", provider=BRAVE)
    web = data.get("web")
    return _results(web.get("results") if isinstance(web, dict) else None, "url", "description")


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
            return parse_serper(answer.data)
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
        return parse_brave(answer.data)

    async def call() -> Paid:
        price = policy.prices.request_cost(provider)
        tries = 0

        async def ask(attempt: Try) -> Any:
            nonlocal tries
            tries = attempt.number
            return await once()

        try:
            results = await retrying(
                ask, policy.retry, retry_on=InvalidAnswer, max_attempts=2, wait=False
            )
        except InvalidAnswer as exc:
            exc.cost = tries * price  # every answer was billed
            raise
        return Paid(results, tries * price)

    return await policy.run(search_request(provider, query, num, config), call, use_cache=use_cache)
