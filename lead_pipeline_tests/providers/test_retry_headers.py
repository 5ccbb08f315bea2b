"""Parsing the waits providers ask for, and the backoff between tries."""

from __future__ import annotations

import pytest

from lead_pipeline.providers import RetryPolicy
from lead_pipeline.providers.retry import (
    parse_reset,
    parse_retry_after,
    quota_exhausted_wait,
    server_wait,
)

NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z


def test_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("7", NOW) == 7
    assert parse_retry_after("0.5", NOW) == 0.5
    assert parse_retry_after("Tue, 14 Nov 2023 22:13:50 GMT", NOW) == 30
    assert parse_retry_after("Tue, 14 Nov 2023 22:00:00 GMT", NOW) == 0  # past: no wait
    assert parse_retry_after("soon", NOW) is None


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("20ms", 0.02),
        ("1s", 1.0),
        ("6m0s", 360.0),
        ("1h2m3.5s", 3723.5),
        ("12", 12.0),
        ("1700000045", 45.0),  # a Unix timestamp
        ("2023-11-14T22:14:20Z", 60.0),  # RFC 3339 (Anthropic)
    ],
)
def test_reset_formats(value: str, seconds: float) -> None:
    assert parse_reset(value, NOW) == pytest.approx(seconds)


def test_reset_garbage_is_ignored() -> None:
    assert parse_reset("whenever", NOW) is None
    assert server_wait({"x-ratelimit-reset": "whenever"}, NOW) is None


def test_retry_after_wins_over_reset_headers() -> None:
    headers = {
        "Retry-After": "3",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "9s",
    }
    assert server_wait(headers, NOW) == 3


def test_only_exhausted_quotas_count() -> None:
    headers = {
        "x-ratelimit-remaining-requests": "10",
        "x-ratelimit-reset-requests": "50s",
        "x-ratelimit-remaining-tokens": "0",
        "x-ratelimit-reset-tokens": "2s",
    }
    assert server_wait(headers, NOW) == 2


def test_anthropic_spelling() -> None:
    headers = {
        "anthropic-ratelimit-requests-remaining": "0",
        "anthropic-ratelimit-requests-reset": "2023-11-14T22:13:25Z",
        "anthropic-ratelimit-input-tokens-remaining": "900",
        "anthropic-ratelimit-input-tokens-reset": "2023-11-14T22:14:20Z",
    }
    assert server_wait(headers, NOW) == pytest.approx(5)


def test_reset_without_remaining_uses_the_longest() -> None:
    assert server_wait({"x-ratelimit-reset": "4", "ratelimit-reset": "2"}, NOW) == 4


def test_no_hint_gives_none() -> None:
    assert server_wait({"content-type": "application/json"}, NOW) is None


def test_quota_exhausted_on_success_pauses_until_reset() -> None:
    assert quota_exhausted_wait({"x-ratelimit-remaining-requests": "5"}, NOW) is None
    exhausted = {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1.5s"}
    assert quota_exhausted_wait(exhausted, NOW) == 1.5


def test_backoff_grows_is_jittered_and_capped() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=5.0)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (9, 5.0)]:
        delays = {policy.backoff(attempt) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jitter: not all workers wait the same
