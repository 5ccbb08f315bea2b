"""Serper and Brave against their wire protocols, normalised to one result shape."""

from __future__ import annotations

import pytest

from lead_pipeline.providers import (
    InvalidAnswer,
    MemoryCache,
    NotConfigured,
    ProviderSession,
    configured_search_providers,
    web_search,
)
from lead_pipeline_tests.servers import BraveServer, Reply, SerperServer

RESULTS = {
    "acme founder": [
        {
            "title": "Ada Lovelace - CEO - Acme | LinkedIn",
            "url": "https://www.linkedin.com/in/ada",
            "snippet": "Founder of Acme",
        },
        {"title": "Acme", "url": "https://acme.example", "snippet": "We build anvils"},
    ]
}


async def test_serper_request_and_normalised_results(
    serper_server: SerperServer, session: ProviderSession
) -> None:
    serper_server.results = RESULTS
    response = await web_search("  acme\n founder ", num=5, session=session)
    assert response.provider == "serper"
    assert response.data == RESULTS["acme founder"]
    assert response.cost == pytest.approx(0.001)
    [request] = serper_server.requests
    assert (request.method, request.path) == ("POST", "/search")
    assert request.headers["x-api-key"] == serper_server.api_key
    assert request.json == {"q": "acme founder", "num": 5}


async def test_brave_request_and_normalised_results(
    brave_server: BraveServer, session: ProviderSession
) -> None:
    brave_server.results = RESULTS
    response = await web_search("acme founder", provider="brave", num=50, session=session)
    assert response.provider == "brave"
    assert response.data == RESULTS["acme founder"]
    [request] = brave_server.requests
    assert (request.method, request.path) == ("GET", "/res/v1/web/search")
    assert request.headers["x-subscription-token"] == brave_server.api_key
    assert request.param("q") == "acme founder"
    assert request.param("count") == "20"  # Brave's maximum


async def test_configured_providers_follow_the_keys(
    serper_server: SerperServer, brave_server: BraveServer
) -> None:
    assert configured_search_providers() == ["serper", "brave"]


async def test_not_configured_names_all_variables(session: ProviderSession) -> None:
    assert configured_search_providers() == []
    with pytest.raises(NotConfigured) as caught:
        await web_search("q", session=session)
    assert caught.value.env_vars == ["SERPER_API_KEY", "BRAVE_API_KEY"]
    with pytest.raises(NotConfigured, match="BRAVE_API_KEY"):
        await web_search("q", provider="brave", session=session)


async def test_search_cache_and_query_normalisation(serper_server: SerperServer) -> None:
    cache = MemoryCache()
    async with ProviderSession(cache=cache) as s:
        first = await web_search("acme  founder", session=s)
        second = await web_search("acme founder", session=s)
    assert serper_server.count() == 1
    assert second.cached and second.cost == 0 and second.data == first.data
    assert s.budget.spent == pytest.approx(0.001)


async def test_broken_json_is_retried_once_then_invalid(
    serper_server: SerperServer, session: ProviderSession
) -> None:
    serper_server.script(*[Reply(body='{"organic": [{"tit', content_type="application/json")] * 2)
    with pytest.raises(InvalidAnswer, match="not JSON"):
        await web_search("q", session=session)
    assert serper_server.count() == 2


async def test_unexpected_shape_gives_no_results_rather_than_crashing(
    serper_server: SerperServer, session: ProviderSession
) -> None:
    serper_server.script(Reply(json={"organic": [{"title": "no link"}, "junk", {"link": 5}]}))
    response = await web_search("q", session=session)
    assert response.data == []
