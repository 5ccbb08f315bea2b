"""Serper and Brave search stand-ins sharing one results source."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from lead_pipeline_tests.servers.base import RecordedRequest, Reply, StubServer

SERPER_KEY = "serper-test-key-0123456789"
BRAVE_KEY = "brave-test-key-0123456789"

# Results in the normalised shape: [{"title", "url", "snippet"}].
Results = Callable[[str, int], list[dict[str, str]]] | Mapping[str, list[dict[str, str]]]


def _lookup(results: Results | None, query: str, num: int) -> list[dict[str, str]]:
    if results is None:
        return [
            {
                "title": f"Result {i} for {query}",
                "url": f"https://example.com/{i}",
                "snippet": f"snippet {i}",
            }
            for i in range(1, min(num, 3) + 1)
        ]
    if callable(results):
        return list(results(query, num))[:num]
    return list(results.get(query, []))[:num]


def _unauthorized(presented: str | None) -> Reply:
    return Reply(
        status=401,
        json={"message": f"Unauthorized: invalid API key {presented}", "statusCode": 401},
    )


class _SearchServer(StubServer):
    def __init__(self, results: Results | None = None, *, api_key: str = "", **knobs: Any) -> None:
        """``results`` maps the query (or a function of query and count) to results."""
        super().__init__(**knobs)
        self.results = results
        self.api_key = api_key or self.default_key

    default_key = ""


class SerperServer(_SearchServer):
    """``POST /search`` with ``X-API-KEY`` and ``{"q", "num"}``; answers ``organic[]``."""

    default_key = SERPER_KEY

    def env(self) -> dict[str, str]:
        return {"SERPER_BASE_URL": self.base_url, "SERPER_API_KEY": self.api_key}

    def handle(self, request: RecordedRequest) -> Reply:
        if request.path != "/search" or request.method != "POST":
            return Reply(status=404, json={"message": "not found"})
        presented = request.headers.get("x-api-key")
        if presented != self.api_key:
            return _unauthorized(presented)
        body = request.json or {}
        query, num = str(body.get("q", "")), int(body.get("num", 10))
        organic = [
            {"title": r["title"], "link": r["url"], "snippet": r["snippet"], "position": i}
            for i, r in enumerate(_lookup(self.results, query, num), start=1)
        ]
        return Reply(
            json={
                "searchParameters": {"q": query, "num": num, "type": "search"},
                "organic": organic,
                "credits": 1,
            }
        )


class BraveServer(_SearchServer):
    """``GET /res/v1/web/search?q=&count=`` with ``X-Subscription-Token``; answers
    ``web.results[]``."""

    default_key = BRAVE_KEY

    def env(self) -> dict[str, str]:
        return {"BRAVE_BASE_URL": self.base_url, "BRAVE_API_KEY": self.api_key}

    def handle(self, request: RecordedRequest) -> Reply:
        if request.path != "/res/v1/web/search" or request.method != "GET":
            return Reply(status=404, json={"message": "not found"})
        presented = request.headers.get("x-subscription-token")
        if presented != self.api_key:
            return _unauthorized(presented)
        query, num = request.param("q") or "", int(request.param("count") or 20)
        results = [
            {
                "title": r["title"],
                "url": r["url"],
                "description": r["snippet"],
                "type": "search_result",
            }
            for r in _lookup(self.results, query, num)
        ]
        return Reply(
            json={
                "type": "search",
                "query": {"original": query},
                "web": {"type": "search", "results": results},
            }
        )
