"""API keys never reach exception text or log records, even when a provider echoes them."""

from __future__ import annotations

import base64
import json
import logging
import traceback
from urllib.parse import quote, quote_plus

import pytest
from pydantic import SecretStr

from lead_pipeline.providers import (
    AuthError,
    ProviderError,
    ProviderSession,
    complete_json,
    scrub,
    web_search,
)
from lead_pipeline.providers.http import error_detail, request_json
from lead_pipeline.providers.redact import get_logger, scrub_value
from lead_pipeline_tests.servers import (
    AnthropicServer,
    BraveServer,
    OpenAIServer,
    Reply,
    SerperServer,
    StubServer,
)

WRONG_KEY = "sk-wrong-but-secret-9f8e7d6c5b4a"


def _all_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc) + str(exc)


def _assert_clean(caplog: pytest.LogCaptureFixture, exc: BaseException, key: str) -> None:
    assert key not in _all_text(exc)
    for record in caplog.records:
        assert key not in record.getMessage(), record.name
    assert "***" in str(exc)  # the echoed key was there and was masked, not dropped


@pytest.mark.parametrize(
    ("server_cls", "key_var", "call"),
    [
        (OpenAIServer, "OPENAI_API_KEY", "llm"),
        (AnthropicServer, "ANTHROPIC_API_KEY", "llm"),
        (SerperServer, "SERPER_API_KEY", "search"),
        (BraveServer, "BRAVE_API_KEY", "search"),
    ],
)
async def test_key_echoed_in_401_body_is_scrubbed(
    server_cls: type,
    key_var: str,
    call: str,
    monkeypatch: pytest.MonkeyPatch,
    session: ProviderSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # httpx and httpcore debug logs included
    with server_cls() as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv(key_var, WRONG_KEY)  # the server echoes what it was sent
        with pytest.raises(AuthError) as caught:
            if call == "llm":
                await complete_json("q", {"x": "string"}, session=session)
            else:
                await web_search("q", session=session)
        echoed = server.requests[0]
    assert WRONG_KEY in str(echoed.headers)  # the key really went over the wire
    assert key_var in str(caught.value)  # and the operator is told which variable to fix
    _assert_clean(caplog, caught.value, WRONG_KEY)


async def test_key_echoed_in_retried_errors_and_logs_is_scrubbed(
    openai_server: OpenAIServer,
    session: ProviderSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    key = openai_server.api_key
    leak = {"error": {"message": f"upstream failed for key {key} (Bearer {key})"}}
    openai_server.script(*[Reply(status=500, json=leak)] * 3)
    with pytest.raises(ProviderError) as caught:
        await complete_json("q", {"x": "string"}, session=session)
    assert any("retrying" in r.getMessage() for r in caplog.records)  # logs were written
    _assert_clean(caplog, caught.value, key)


async def test_key_in_a_non_json_success_body_is_scrubbed(
    openai_server: OpenAIServer,
    session: ProviderSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    key = openai_server.api_key
    openai_server.script(*[Reply(body=f"<html>debug: {key}", content_type="text/html")] * 2)
    with pytest.raises(ProviderError) as caught:
        await complete_json("q", {"x": "string"}, session=session)
    _assert_clean(caplog, caught.value, key)


def test_scrub_masks_known_secrets_and_their_encodings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_SERVICE_API_KEY", "abc/def+ghi=123")
    text = "raw abc/def+ghi=123, url abc%2Fdef%2Bghi%3D123, json abc\\/def+ghi=123"
    assert scrub(text) == "raw ***, url ***, json ***"
    assert scrub("x-api-key: zzzzzzzzzzzz") == "x-api-key: ***"
    assert scrub("Authorization: Bearer tok_1234567890") == "Authorization: Bearer ***"
    assert scrub("my own key 0f0f0f0f", extra=["0f0f0f0f"]) == "my own key ***"


def test_logger_filter_scrubs_arguments(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-in-a-log-argument")
    caplog.set_level(logging.INFO)
    get_logger().info("calling with %s", "sk-in-a-log-argument")
    [record] = [r for r in caplog.records if r.name == "lead_pipeline.providers"]
    assert record.getMessage() == "calling with ***"


CUT_KEY = "sk-live-Qm9vZ2xlLXN0eWxlLWtleS0xMjM0NTY3ODkw"


def _forms_of(key: str) -> dict[str, str]:
    """Every transformed form of ``key`` a provider has been seen to echo."""
    return {
        "raw": key,
        "upper": key.upper(),
        "lower": key.lower(),
        "swapped": key.swapcase(),
        "url-encoded": quote(key, safe=""),
        "form-encoded": quote_plus(key + " /+=", safe=""),
        "json-escaped": key.replace("-", "\\/"),
        **{
            f"base64 at offset {n}": base64.b64encode((":" * n + key).encode()).decode()
            for n in range(3)
        },
        **{
            f"url-safe base64 at offset {n}": base64.urlsafe_b64encode(
                ("xy"[:n] + key + "!").encode()
            ).decode()
            for n in range(3)
        },
        "basic auth": "Basic " + base64.b64encode(f"user:{key}".encode()).decode(),
        "prefix at the cut": key[:12],
        "suffix": key[-12:],
        "middle": key[10:20],
    }


@pytest.mark.parametrize("form", list(_forms_of(CUT_KEY)))
def test_scrub_masks_transformed_forms_and_pieces_of_a_key(form: str) -> None:
    text = _forms_of(CUT_KEY)[form]
    cleaned = scrub(f"provider said: {text} (end)", extra=[CUT_KEY])
    assert "***" in cleaned
    for n in range(8, len(CUT_KEY) + 1):  # no run of 8 characters of the key, in any case
        for piece in {CUT_KEY[i : i + n].lower() for i in range(len(CUT_KEY) - n + 1)}:
            assert piece not in cleaned.lower(), (form, cleaned)
    assert cleaned.startswith("provider said: ") and cleaned.endswith(" (end)")


@pytest.mark.parametrize("cut", [1, 4, 7, 8, 12, 30])
def test_error_text_is_scrubbed_before_it_is_cut(cut: int) -> None:
    """A key that straddles the length limit leaves not even its first character."""
    body = json.dumps({"error": {"message": "." * (300 - cut) + CUT_KEY + " trailing"}})
    detail = error_detail(body.encode(), limit=300, secrets=[CUT_KEY])
    assert detail == ("." * (300 - cut) + "*** trailing")[:300]  # the mask, never a piece
    assert not any(detail.endswith(CUT_KEY[:n]) for n in range(1, len(CUT_KEY)))


async def test_a_key_echoed_at_the_cut_of_an_error_reaches_no_exception(
    session: ProviderSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    filler = "x" * 290
    with StubServer() as server:
        server.script(
            Reply(status=503, json={"message": filler + CUT_KEY}),
            Reply(status=503, body=filler + CUT_KEY.upper()),
            Reply(status=400, json={"detail": filler + quote(CUT_KEY)}),
        )
        policy = session.policy("echo")
        with pytest.raises(ProviderError) as caught:
            await request_json(
                session.client,
                policy,
                "GET",
                server.url("/x"),
                headers={"X-Key": CUT_KEY},
                secret=SecretStr(CUT_KEY),
            )
    everything = _all_text(caught.value) + "\n".join(r.getMessage() for r in caplog.records)
    assert "HTTP 400" in str(caught.value)
    for n in (4, 8, 12):
        assert CUT_KEY[:n].lower() not in everything.lower().replace("sk-l", ""), n


def test_scrub_value_masks_keys_inside_an_answer() -> None:
    answer = {"note": f"hello {CUT_KEY}", "items": [CUT_KEY.upper(), 5], CUT_KEY: None}
    cleaned = scrub_value(answer, [CUT_KEY])
    assert cleaned == {"note": "hello ***", "items": ["***", 5], "***": None}
