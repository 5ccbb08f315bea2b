"""Fixtures for provider tests: a clean provider environment and fast retry timings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from lead_pipeline.providers import Limit, ProviderSession, RetryPolicy, Timeouts
from lead_pipeline_tests.servers import (
    AnthropicServer,
    BraveServer,
    OpenAIServer,
    SerperServer,
    WebServer,
)

PROVIDER_VARS = [
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "SERPER_API_KEY",
    "SERPER_BASE_URL",
    "BRAVE_API_KEY",
    "BRAVE_BASE_URL",
    "HUNTER_API_KEY",
    "HUNTER_BASE_URL",
    "APOLLO_API_KEY",
    "APOLLO_BASE_URL",
    "PDL_API_KEY",
    "PDL_BASE_URL",
    "LEAD_PIPELINE_LLM_BACKEND",
    "LEAD_PIPELINE_LLM_MODEL",
    "LEAD_PIPELINE_ANTHROPIC_MODEL",
    "LEAD_PIPELINE_PRICES",
    "LEAD_PIPELINE_ALLOW_PRIVATE_URLS",
]

FAST_RETRY = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05, max_total_wait=5.0)


@pytest.fixture(autouse=True)
def _no_provider_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No key or base URL from the developer's shell may reach a real API."""
    for name in PROVIDER_VARS:
        monkeypatch.delenv(name, raising=False)


def use(monkeypatch: pytest.MonkeyPatch, server: object) -> None:
    for name, value in server.env().items():  # type: ignore[attr-defined]
        monkeypatch.setenv(name, value)


@pytest.fixture
async def session() -> AsyncIterator[ProviderSession]:
    """Fast retries, no pacing: tests count requests, they do not wait for them."""
    async with ProviderSession(
        retry=FAST_RETRY,
        default_limit=Limit(requests_per_second=None, max_in_flight=16),
        timeouts=Timeouts(total=5.0, connect=2.0, read=2.0),
    ) as s:
        yield s


@pytest.fixture
def openai_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenAIServer]:
    with OpenAIServer(usage=(1000, 200)) as server:
        use(monkeypatch, server)
        yield server


@pytest.fixture
def anthropic_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[AnthropicServer]:
    with AnthropicServer(usage=(2000, 400)) as server:
        use(monkeypatch, server)
        yield server


@pytest.fixture
def serper_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[SerperServer]:
    with SerperServer() as server:
        use(monkeypatch, server)
        yield server


@pytest.fixture
def brave_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[BraveServer]:
    with BraveServer() as server:
        use(monkeypatch, server)
        yield server


@pytest.fixture
def web_server() -> Iterator[WebServer]:
    with WebServer() as server:
        yield server
