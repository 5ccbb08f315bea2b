"""The stand-in servers' own knobs, which other suites (end to end, benchmark) rely on."""

from __future__ import annotations

import httpx2

from lead_pipeline_tests.servers import (
    AnthropicServer,
    OpenAIServer,
    Reply,
    SerperServer,
    WebServer,
    schema_answer,
)


def test_rate_limit_answers_429_with_retry_after_beyond_n_per_second() -> None:
    with WebServer({"/": Reply(body="hi")}, rate_limit=2, retry_after="7") as server:
        statuses = [httpx2.get(server.url("/")) for _ in range(4)]
    assert [r.status_code for r in statuses] == [200, 200, 429, 429]
    assert statuses[2].headers["retry-after"] == "7"
    assert server.count("/") == 4


def test_failure_rate_is_seeded_and_reproducible() -> None:
    def run() -> list[int]:
        with WebServer({"/": Reply(body="hi")}, failure_rate=0.5, seed=3) as server:
            return [httpx2.get(server.url("/")).status_code for _ in range(20)]

    first = run()
    assert first == run()
    assert 500 in first and 200 in first


def test_script_comes_first_then_reset_clears() -> None:
    with WebServer({"/": Reply(body="normal")}) as server:
        server.script(Reply(status=503, body="scripted"), lambda req: Reply(body=req.path))
        bodies = [httpx2.get(server.url("/")).text for _ in range(3)]
        assert bodies == ["scripted", "/", "normal"]
        server.reset()
        assert server.count() == 0


def test_openai_default_answer_follows_the_schema() -> None:
    with OpenAIServer() as server:
        schema = {
            "type": "object",
            "properties": {"flag": {"type": "boolean"}, "n": {"type": "number"}},
        }
        answer = httpx2.post(
            server.base_url + "/chat/completions",
            headers={"Authorization": f"Bearer {server.api_key}"},
            json={
                "model": "m",
                "messages": [{"role": "user", "content": "hello there"}],
                "response_format": {"type": "json_schema", "json_schema": {"schema": schema}},
            },
        ).json()
        unauthorized = httpx2.post(server.base_url + "/chat/completions", json={})
    assert answer["choices"][0]["message"]["content"] == '{"flag": true, "n": 0.5}'
    assert answer["usage"]["prompt_tokens"] > 0
    assert unauthorized.status_code == 401


def test_anthropic_requires_version_header() -> None:
    with AnthropicServer() as server:
        missing = httpx2.post(
            server.url("/v1/messages"), headers={"x-api-key": server.api_key}, json={}
        )
    assert missing.status_code == 400


def test_serper_answers_organic_results() -> None:
    results = {"q": [{"title": "T", "url": "https://t.example", "snippet": "S"}]}
    with SerperServer(results) as server:
        body = httpx2.post(
            server.url("/search"), headers={"X-API-KEY": server.api_key}, json={"q": "q"}
        ).json()
    assert body["organic"] == [
        {"title": "T", "link": "https://t.example", "snippet": "S", "position": 1}
    ]


def test_schema_answer_respects_enum_and_bounds() -> None:
    assert schema_answer({"type": "string", "enum": ["x", "y"]}) == "x"
    assert schema_answer({"type": "number", "minimum": 2, "maximum": 4}) == 3
    assert schema_answer({"type": ["string", "null"]}) == "stub"
