"""When to try again and how long to wait: backoff with jitter and server-given waits."""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from lead_pipeline.providers.errors import ProviderError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries for 429, 5xx and timeouts.

    ``max_attempts`` counts the first try. ``max_total_wait`` caps the seconds slept
    across all retries of one call: a provider asking for a longer wait than that
    gets a :class:`RateLimited` at once instead of a stuck worker.
    """

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 20.0
    max_total_wait: float = 60.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def backoff(self, attempt: int) -> float:
        """Delay after failed try number ``attempt`` (1-based): exponential, full jitter.

        Full jitter spreads the workers of a run that failed together, so they do
        not hammer a recovering provider in lockstep.
        """
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return random.uniform(ceiling / 2, ceiling)


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def _parse_duration(value: str) -> float | None:
    """OpenAI's reset format ("1s", "6m0s", "250ms", "1h2m3.5s") or bare seconds."""
    value = value.strip().lower()
    try:
        return float(value)
    except ValueError:
        pass
    parts = _DURATION_PART.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        return None
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(n) * scale[u] for n, u in parts)


def _seconds_until(moment: datetime, now: float) -> float:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp() - now


def parse_retry_after(value: str, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds from now: delay-seconds or an HTTP-date."""
    now = time.time() if now is None else now
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, _seconds_until(parsedate_to_datetime(value), now))
    except (TypeError, ValueError, IndexError):
        return None


def parse_reset(value: str, now: float | None = None) -> float | None:
    """A ``*-reset`` header as seconds from now.

    Providers disagree on the unit: a duration ("20ms", "6m0s"), seconds, a Unix
    epoch timestamp, or an RFC 3339 time (Anthropic). Numbers above 10^9 can only
    be epochs.
    """
    now = time.time() if now is None else now
    seconds = _parse_duration(value)
    if seconds is not None:
        return max(0.0, seconds - now if seconds > 1e9 else seconds)
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return max(0.0, _seconds_until(moment, now))


def _is_zero(value: str) -> bool:
    try:
        return float(value) <= 0
    except ValueError:
        return False


def _ratelimit_header(name: str) -> tuple[str, str] | None:
    """("reset" | "remaining", quota) for the spellings in use.

    ``x-ratelimit-reset-requests`` (OpenAI), ``anthropic-ratelimit-requests-reset``,
    ``x-ratelimit-reset`` and the IETF draft's ``ratelimit-reset`` all qualify.
    """
    _, sep, rest = name.partition("ratelimit-")
    if not sep:
        return None
    tokens = rest.split("-")
    for kind in ("reset", "remaining"):
        if kind in tokens:
            return kind, "-".join(t for t in tokens if t != kind)
    return None


def server_wait(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """How long the provider asks us to wait, from its headers, or None if it does not say.

    ``Retry-After`` wins. Otherwise, the reset of each exhausted quota
    (``*-remaining-<kind>: 0`` with ``*-reset-<kind>``) is honoured; when no
    remaining counters are sent at all, the longest reset given is used.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    if "retry-after" in lower:
        wait = parse_retry_after(lower["retry-after"], now)
        if wait is not None:
            return wait
    if "retry-after-ms" in lower:
        try:
            return max(0.0, float(lower["retry-after-ms"]) / 1000)
        except ValueError:
            pass
    resets: dict[str, float] = {}
    exhausted: set[str] = set()
    have_remaining = False
    for name, value in lower.items():
        parsed = _ratelimit_header(name)
        if parsed is None:
            continue
        kind, suffix = parsed
        if kind == "remaining":
            have_remaining = True
            if _is_zero(value):
                exhausted.add(suffix)
        elif (seconds := parse_reset(value, now)) is not None:
            resets[suffix] = max(seconds, resets.get(suffix, 0.0))
    if have_remaining:
        waits = [resets[s] for s in exhausted if s in resets]
    else:
        waits = list(resets.values())
    return max(waits) if waits else None


def quota_exhausted_wait(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """After a *successful* answer: the wait before the next call if a quota hit zero.

    Pausing proactively avoids burning a request on a 429 we could see coming.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    if not any("ratelimit-remaining" in k and _is_zero(v) for k, v in lower.items()):
        return None
    lower.pop("retry-after", None)
    return server_wait(lower, now)


@dataclass(frozen=True)
class Try:
    """Which try a retried call is on: ``number`` of at most ``of``, after ``waited`` seconds."""

    number: int
    of: int
    waited: float


async def retrying(
    attempt: Callable[[Try], Awaitable[T]],
    policy: RetryPolicy,
    *,
    retry_on: type[BaseException] | tuple[type[BaseException], ...],
    max_attempts: int | None = None,
    wait: bool = True,
    log: Callable[[BaseException, float], None] | None = None,
) -> T:
    """Call ``attempt`` until it returns or raises something not in ``retry_on``; the one
    retry loop every provider shares (on tenacity).

    Between tries it waits what the error says the provider asked for
    (``retry_after``: ``Retry-After``, a rate-limit reset), else the policy's
    backoff with jitter; ``wait=False`` asks again at once (a re-ask after an
    invalid answer, not an outage). It gives up after ``max_attempts`` tries
    (default the policy's) or when the next wait would take the total past
    ``max_total_wait``, and raises the last error as it was.
    """
    limit = max_attempts or policy.max_attempts

    def delay(state: RetryCallState) -> float:
        if not wait or state.outcome is None:
            return 0.0
        error = state.outcome.exception()
        asked = error.retry_after if isinstance(error, ProviderError) else None
        return float(asked) if asked is not None else policy.backoff(state.attempt_number)

    def too_long(state: RetryCallState) -> bool:
        return state.idle_for + (state.upcoming_sleep or 0.0) > policy.max_total_wait

    def before_sleep(state: RetryCallState) -> None:
        if log is not None and state.outcome is not None:
            error = state.outcome.exception()
            if error is not None:
                log(error, state.upcoming_sleep)

    async for tried in AsyncRetrying(
        # tenacity takes a plain callable as a stop condition, but types ``|`` for its own
        # stop classes only.
        stop=stop_after_attempt(limit) | too_long,  # type: ignore[operator]
        wait=delay,
        retry=retry_if_exception_type(retry_on),
        before_sleep=before_sleep,
        sleep=asyncio.sleep,
        reraise=True,
    ):
        with tried:
            state = tried.retry_state
            return await attempt(Try(state.attempt_number, limit, state.idle_for))
    raise AssertionError("unreachable: tenacity either returns or re-raises")
