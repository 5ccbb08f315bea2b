"""API keys never reach exception text or log records, even when a provider echoes them."""

from __future__ import annotations

import logging
import traceback

import pytest

from lead_pipeline.providers import (
    AuthError,
    ProviderError,
    ProviderSession,
    complete_json,
    scrub,
    web_search,
)
from lead_pipeline.providers.redact import get_logger
from lead_pipeline_tests.servers import (
    AnthropicServer,
    BraveServer,
    OpenAIServer,
    Reply,
    SerperServer,
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
