"""The one retry loop: the provider's requested wait first, bounded tries and total wait."""

from __future__ import annotations

import pytest

from lead_pipeline.providers import ProviderUnavailable, RateLimited, RetryPolicy
from lead_pipeline.providers.errors import AuthError, InvalidAnswer
from lead_pipeline.providers.retry import Try, retrying

FAST = RetryPolicy(max_attempts=4, base_delay=0.02, max_delay=0.02, max_total_wait=1.0)


class Flaky:
    """Fails ``failures`` times with the given error, then answers."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures, self.error, self.tries = failures, error, []

    async def __call__(self, attempt: Try) -> str:
        self.tries.append(attempt)
        if len(self.tries) <= self.failures:
            raise self.error
        return "ok"


async def test_the_wait_the_provider_asked_for_wins_over_backoff() -> None:
    call = Flaky(2, RateLimited("429", retry_after=0.03))
    waits: list[float] = []
    assert (
        await retrying(call, FAST, retry_on=RateLimited, log=lambda e, w: waits.append(w)) == "ok"
    )
    assert waits == [0.03, 0.03]
    assert [t.number for t in call.tries] == [1, 2, 3] and call.tries[0].of == 4
    assert call.tries[2].waited == pytest.approx(0.06)


async def test_without_a_requested_wait_backoff_applies() -> None:
    call = Flaky(1, ProviderUnavailable("503"))
    waits: list[float] = []
    await retrying(call, FAST, retry_on=ProviderUnavailable, log=lambda e, w: waits.append(w))
    assert len(waits) == 1 and 0.01 <= waits[0] <= 0.02


async def test_tries_are_bounded_and_the_last_error_is_raised_as_it_was() -> None:
    error = ProviderUnavailable("still down")
    call = Flaky(10, error)
    with pytest.raises(ProviderUnavailable) as info:
        await retrying(call, FAST, retry_on=ProviderUnavailable)
    assert info.value is error and len(call.tries) == 4


async def test_a_wait_past_the_total_budget_is_not_slept() -> None:
    """A provider asking for 100 s when 1 s is allowed: raised after the first try."""
    call = Flaky(10, RateLimited("429", retry_after=100.0))
    waits: list[float] = []
    with pytest.raises(RateLimited):
        await retrying(call, FAST, retry_on=RateLimited, log=lambda e, w: waits.append(w))
    assert len(call.tries) == 1 and waits == []


async def test_other_errors_are_not_retried() -> None:
    call = Flaky(1, AuthError("401"))
    with pytest.raises(AuthError):
        await retrying(call, FAST, retry_on=(RateLimited, ProviderUnavailable))
    assert len(call.tries) == 1


async def test_a_re_ask_does_not_wait() -> None:
    call = Flaky(1, InvalidAnswer("not JSON"))
    waits: list[float] = []
    assert (
        await retrying(
            call,
            FAST,
            retry_on=InvalidAnswer,
            max_attempts=2,
            wait=False,
            log=lambda e, w: waits.append(w),
        )
        == "ok"
    )
    assert waits == [0.0]
