"""The one reader of provider answers, tried with gzip bombs, trickles, huge bodies and odd
encodings through every provider family's own call, against its stand-in server."""

from __future__ import annotations

import gzip
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from lead_pipeline.crm.hubspot import HubSpotClient
from lead_pipeline.providers import (
    AnswerTooLarge,
    InvalidAnswer,
    ProviderError,
    ProviderSession,
    ProviderUnavailable,
    Timeouts,
    complete_json,
    fetch_page,
    web_search,
)
from lead_pipeline.providers.answer import body_excerpt, parse_json
from lead_pipeline.providers.email_finders import PersonQuery, find_email
from lead_pipeline_tests.providers.conftest import FAST_RETRY, use
from lead_pipeline_tests.servers import (
    AnthropicServer,
    ApolloServer,
    BraveServer,
    HubSpotServer,
    HunterServer,
    OpenAIServer,
    PdlServer,
    Reply,
    SerperServer,
    StubServer,
    WebServer,
)

MB = 1_000_000
ADA = PersonQuery("Ada Lovelace", "acme.com", company="Acme")


@dataclass
class Family:
    """A provider family: its stand-in server and the call a node makes to it."""

    name: str
    server: Callable[[], StubServer]
    call: Callable[[ProviderSession], Awaitable[Any]]


async def _hubspot(session: ProviderSession) -> Any:
    outcome = await HubSpotClient(session).upsert("companies", [("acme.com", {"name": "Acme"})])
    if outcome.errors:  # the sync records a failed batch per record instead of raising
        raise ProviderError(outcome.errors["acme.com"])
    return outcome


FAMILIES = [
    Family("openai", OpenAIServer, lambda s: complete_json("q", {"a": "string"}, session=s)),
    Family("anthropic", AnthropicServer, lambda s: complete_json("q", {"a": "string"}, session=s)),
    Family("serper", SerperServer, lambda s: web_search("acme", session=s)),
    Family("brave", BraveServer, lambda s: web_search("acme", provider="brave", session=s)),
    Family("hunter", HunterServer, lambda s: find_email(ADA, provider="hunter", session=s)),
    Family("apollo", ApolloServer, lambda s: find_email(ADA, provider="apollo", session=s)),
    Family("pdl", PdlServer, lambda s: find_email(ADA, provider="pdl", session=s)),
    Family("hubspot", HubSpotServer, _hubspot),
]
LIMITS = {
    "openai": "4 MB",
    "anthropic": "4 MB",
    "serper": "4 MB",
    "brave": "4 MB",
    "hunter": "1 MB",
    "apollo": "1 MB",
    "pdl": "1 MB",
    "hubspot": "8 MB",
}


@pytest.fixture(params=FAMILIES, ids=[f.name for f in FAMILIES])
def family(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Family, StubServer]]:
    spec: Family = request.param
    with spec.server() as server:
        use(monkeypatch, server)
        yield spec, server


def _peak_during(run: Callable[[], Any]) -> tuple[Any, int]:
    """What ``run()`` returned or raised, and the most memory Python held meanwhile."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        try:
            outcome: Any = run()
        except Exception as exc:
            outcome = exc
        return outcome, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("inflated", [100 * MB, 1000 * MB], ids=["100MB", "1GB"])
def test_a_gzip_bomb_is_refused_by_every_family_with_bounded_memory(
    family: tuple[Family, StubServer], inflated: int
) -> None:
    spec, server = family
    server.script(Reply(json={"padding": "x"}, gzip_bomb=inflated))

    async def call() -> Any:
        async with ProviderSession(retry=FAST_RETRY, timeouts=Timeouts(total=60)) as session:
            return await spec.call(session)

    import asyncio

    outcome, peak = _peak_during(lambda: asyncio.run(call()))
    assert isinstance(outcome, ProviderError), outcome
    assert str(outcome) == (
        f"{spec.name}: answer larger than {LIMITS[spec.name]} after decompression; refused"
    )
    # Without the cap the body alone would be 100 MB or 1 GB; with it, the cap plus pieces.
    assert peak < 40 * MB, f"{peak / MB:.0f} MB held"
    assert server.count() == 1  # refused, not asked again


async def test_a_bomb_answer_is_neither_cached_nor_retried(serper_server: SerperServer) -> None:
    from lead_pipeline.providers import MemoryCache

    cache = MemoryCache()
    serper_server.script(Reply(json={}, gzip_bomb=50 * MB))
    async with ProviderSession(retry=FAST_RETRY, cache=cache) as session:
        with pytest.raises(AnswerTooLarge):
            await web_search("acme", session=session)
        assert cache.entries == {}
        found = [{"title": "A", "url": "https://a.example", "snippet": ""}]
        serper_server.results = {"acme": found}
        response = await web_search("acme", session=session)  # the next answer is read
    assert response.data == found


async def test_the_cap_is_configurable_and_an_announced_length_is_refused_unread(
    serper_server: SerperServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEAD_PIPELINE_ANSWER_LIMITS", '{"serper": "2KB"}')
    results = [{"title": f"r{i}", "link": f"https://r{i}.example"} for i in range(100)]
    serper_server.script(Reply(json={"searchParameters": {}, "organic": results}))
    async with ProviderSession(retry=FAST_RETRY) as session:
        with pytest.raises(AnswerTooLarge, match=r"^serper: answer larger than 2 KB after"):
            await web_search("acme", session=session)
        monkeypatch.setenv("LEAD_PIPELINE_ANSWER_LIMITS", '{"default": "1MB"}')
        serper_server.script(Reply(json={"searchParameters": {}, "organic": results}))
        response = await web_search("acme", session=session)
    assert len(response.data) == 10  # the count asked for (see test_search.py)


async def test_a_trickling_answer_is_cut_off_by_the_total_deadline(
    serper_server: SerperServer,
) -> None:
    # Each byte arrives well within the read timeout; only the total deadline can stop it.
    body = b'{"organic": [' + b" " * 400 + b"]}"
    serper_server.script(*[Reply(body=body, trickle=0.05) for _ in range(3)])
    slow = Timeouts(total=0.5, connect=2, read=30)
    async with ProviderSession(retry=FAST_RETRY, timeouts=slow) as session:
        with pytest.raises(ProviderUnavailable, match=r"timed out \(attempt 3 of 3\)"):
            await web_search("acme", session=session)


async def test_an_encoding_not_asked_for_is_refused(serper_server: SerperServer) -> None:
    brotli = Reply(body=b"\x8b\x00garbage", headers={"Content-Encoding": "br"})
    serper_server.script(brotli, brotli)  # an invalid answer is asked once more
    async with ProviderSession(retry=FAST_RETRY) as session:
        with pytest.raises(InvalidAnswer, match="encoded as 'br', which was not asked for"):
            await web_search("acme", session=session)
    assert serper_server.requests[0].headers["accept-encoding"] == "gzip, deflate"


async def test_gzip_and_deflate_answers_are_read(serper_server: SerperServer) -> None:
    import zlib

    answer = b'{"searchParameters": {}, "organic": [{"title": "A", "link": "https://a.example"}]}'
    serper_server.script(
        Reply(body=gzip.compress(answer), headers={"Content-Encoding": "gzip"}),
        Reply(body=zlib.compress(answer), headers={"Content-Encoding": "deflate"}),
        Reply(body=zlib.compress(answer)[2:-4], headers={"Content-Encoding": "deflate"}),  # raw
    )
    async with ProviderSession(retry=FAST_RETRY) as session:
        for query in ("a", "b", "c"):
            response = await web_search(query, session=session)
            assert response.data[0]["url"] == "https://a.example"


async def test_an_error_body_bomb_gives_a_short_error_quickly(
    serper_server: SerperServer,
) -> None:
    serper_server.script(Reply(status=400, json={"message": "bad"}, gzip_bomb=500 * MB))
    async with ProviderSession(retry=FAST_RETRY) as session:
        with pytest.raises(ProviderError) as caught:
            await web_search("acme", session=session)
    assert "answered HTTP 400" in str(caught.value)
    assert len(str(caught.value)) < 400


def test_only_the_excerpt_is_scrubbed_and_a_key_at_its_edge_never_shows() -> None:
    key = "sk-live-0123456789abcdefghij"
    # 20 MB of text: scrubbing it whole takes seconds; the excerpt needs a window.
    body = (("x" * 190) + key + ("y" * 20 * MB)).encode()
    shown = body_excerpt(body, 200, [key])
    assert len(shown) <= 200 and "sk-live" not in shown and "0123" not in shown
    # A key starting just before the limit: no piece of it survives the cut.
    for offset in range(180, 205):
        text = ("x" * offset + key + "z" * MB).encode()
        shown = body_excerpt(text, 200, [key])
        assert "0123" not in shown and "sk-l" not in shown[offset - 2 :], (offset, shown)


def test_strict_json_refuses_nan_infinity_and_numbers_past_a_float() -> None:
    assert parse_json(b'{"a": 1.5, "b": [1, 2]}') == {"a": 1.5, "b": [1, 2]}
    for bad in (b'{"a": NaN}', b'{"a": Infinity}', b'{"a": -Infinity}', b'{"a": 1e400}'):
        with pytest.raises(ValueError):
            parse_json(bad)


async def test_a_gzip_bomb_page_is_cut_at_max_bytes_with_bounded_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEAD_PIPELINE_ALLOW_PRIVATE_URLS", "1")
    page = b"<html><head><title>Bomb</title></head><body><p>Acme sells anvils.</p>"
    with WebServer() as web:
        web.route("/", Reply(body=page, content_type="text/html", gzip_bomb=1000 * MB))

        async def call() -> Any:
            async with ProviderSession(retry=FAST_RETRY) as session:
                return await fetch_page(web.url("/"), session=session, max_bytes=500_000)

        import asyncio

        outcome, peak = await asyncio.to_thread(_peak_during, lambda: asyncio.run(call()))
    assert not isinstance(outcome, Exception), outcome
    assert outcome.data["truncated"] is True and outcome.data["bytes_read"] == 500_000
    assert outcome.data["title"] == "Bomb"
    assert peak < 40 * MB, f"{peak / MB:.0f} MB held"
