"""Wire-protocol stand-ins for the providers, on 127.0.0.1, for any test or benchmark.

Usage::

    from lead_pipeline_tests.servers import OpenAIServer, Reply

    with OpenAIServer(usage=(100, 20), rate_limit=50) as llm:
        monkeypatch.setenv("OPENAI_BASE_URL", llm.base_url)  # or: for k, v in llm.env().items()
        monkeypatch.setenv("OPENAI_API_KEY", llm.api_key)
        llm.script(Reply(status=429, json={}, headers={"Retry-After": "1"}))
        ...
        assert llm.count("/v1/chat/completions") == 2

Every server records ``requests``; see :class:`StubServer` for the fault knobs
(``latency``, ``rate_limit`` + ``retry_after``, ``failure_rate``), ``script`` and
``aborted``.
"""

from lead_pipeline_tests.servers.base import (
    TLS_CERT_FILE,
    RecordedRequest,
    Reply,
    StubServer,
    json_reply,
)
from lead_pipeline_tests.servers.email import (
    APOLLO_KEY,
    HUNTER_KEY,
    PDL_KEY,
    ApolloServer,
    HunterServer,
    PdlServer,
)
from lead_pipeline_tests.servers.hubspot import HUBSPOT_TOKEN, HubSpotServer
from lead_pipeline_tests.servers.llm import (
    DEFAULT_KEY,
    AnthropicServer,
    OpenAIServer,
    anthropic_message,
    chat_completion,
    schema_answer,
)
from lead_pipeline_tests.servers.search import BRAVE_KEY, SERPER_KEY, BraveServer, SerperServer
from lead_pipeline_tests.servers.web import WebServer, html_page, huge_page, redirect

__all__ = [
    "APOLLO_KEY",
    "BRAVE_KEY",
    "DEFAULT_KEY",
    "HUBSPOT_TOKEN",
    "HUNTER_KEY",
    "PDL_KEY",
    "SERPER_KEY",
    "TLS_CERT_FILE",
    "AnthropicServer",
    "ApolloServer",
    "BraveServer",
    "HubSpotServer",
    "HunterServer",
    "OpenAIServer",
    "PdlServer",
    "RecordedRequest",
    "Reply",
    "SerperServer",
    "StubServer",
    "WebServer",
    "anthropic_message",
    "chat_completion",
    "html_page",
    "huge_page",
    "json_reply",
    "redirect",
    "schema_answer",
]
