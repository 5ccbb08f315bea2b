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


HOSTILE_SERPER = {
    "an error body with a 200": (
        {"message": "Not enough credits", "statusCode": 400},
        "serper: answered with an error instead of results: Not enough credits",
    ),
    "organic as an object": (
        {"searchParameters": {"q": "q"}, "organic": {"link": "https://a.example"}},
        "serper: answer does not fit: organic: Input should be a valid list",
    ),
    "a result without a link": (
        {"searchParameters": {}, "organic": [{"title": "no link"}]},
        "serper: answer does not fit: organic[0].link: Field required",
    ),
    "a result that is text": (
        {"searchParameters": {}, "organic": ["junk"]},
        "serper: answer does not fit: organic[0]: Input should be a valid dictionary",
    ),
    "a link that is a number": (
        {"searchParameters": {}, "organic": [{"link": 5}]},
        "serper: answer does not fit: organic[0].link: Input should be a valid string",
    ),
    "an answer that is a list": ([], "serper: answer does not fit: the answer: Input should be"),
}


@pytest.mark.parametrize("body, message", HOSTILE_SERPER.values(), ids=HOSTILE_SERPER)
async def test_an_answer_that_does_not_fit_is_an_error_charged_and_never_cached(
    serper_server: SerperServer, body: object, message: str
) -> None:
    cache = MemoryCache()
    serper_server.script(Reply(json=body), Reply(json=body))  # asked once more
    async with ProviderSession(cache=cache) as session:
        with pytest.raises(InvalidAnswer) as caught:
            await web_search("q", session=session)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)
    assert caught.value.cost == pytest.approx(0.002)  # both answers were billed
    assert cache.entries == {}
    assert serper_server.count() == 2


async def test_a_brave_error_body_or_bad_shape_is_an_error(
    brave_server: BraveServer, session: ProviderSession
) -> None:
    brave_server.script(*[Reply(json={"type": "ErrorResponse", "error": {"detail": "bad"}})] * 2)
    with pytest.raises(
        InvalidAnswer, match="brave: answered with an error instead of results: bad"
    ):
        await web_search("q", provider="brave", session=session)
    bad = {"type": "search", "web": {"results": {"url": "https://a.example"}}}
    brave_server.script(*[Reply(json=bad)] * 2)
    with pytest.raises(InvalidAnswer, match=r"brave: answer does not fit: web\.results: Input"):
        await web_search("q2", provider="brave", session=session)
    brave_server.script(Reply(json={"type": "search", "query": {"original": "q3"}}))
    assert (await web_search("q3", provider="brave", session=session)).data == []  # no web


async def test_ten_thousand_results_keep_the_ten_asked_for(
    serper_server: SerperServer, brave_server: BraveServer
) -> None:
    many = [
        {"title": f"r{i}", "link": f"https://r{i}.example", "snippet": "s"} for i in range(10_000)
    ]
    # One broken result beyond the ones asked for is never looked at.
    serper_server.script(Reply(json={"searchParameters": {}, "organic": [*many, {"link": 5}]}))
    brave = [{"title": r["title"], "url": r["link"], "description": "s"} for r in many]
    brave_server.script(Reply(json={"type": "search", "web": {"results": brave}}))
    cache = MemoryCache()
    async with ProviderSession(cache=cache) as session:
        serper = await web_search("q", num=10, session=session)
        from_brave = await web_search("q", provider="brave", num=7, session=session)
    assert [r["url"] for r in serper.data] == [f"https://r{i}.example" for i in range(10)]
    assert len(from_brave.data) == 7
    stored = [entry["data"] for _, entry in cache.entries.values()]
    assert sorted(len(data) for data in stored) == [7, 10]  # the cache keeps what was asked
