"""Provider errors survive process boundaries and name what to fix."""

from __future__ import annotations

import pickle

import pytest

from lead_pipeline.providers import InvalidAnswer, NotConfigured, RateLimited


def test_errors_pickle_with_their_details(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-pickled-secret")
    original = RateLimited(
        "openai: slow down sk-pickled-secret", provider="openai", status=429, retry_after=2.0
    )
    copy = pickle.loads(pickle.dumps(original))
    assert type(copy) is RateLimited
    assert (copy.provider, copy.status, copy.retry_after) == ("openai", 429, 2.0)
    assert str(copy) == "openai: slow down ***"
    invalid = pickle.loads(pickle.dumps(InvalidAnswer("bad", cost=0.5)))
    assert invalid.cost == 0.5
    missing = pickle.loads(pickle.dumps(NotConfigured("web search", ["SERPER_API_KEY"])))
    assert missing.env_vars == ["SERPER_API_KEY"]
    assert str(missing) == "web search is not configured: set SERPER_API_KEY"
