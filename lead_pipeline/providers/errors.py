"""The exceptions providers raise, so callers can tell a retry from a dead end.

Every message is scrubbed of known secrets at construction time: whatever text a
provider sent back, an exception of this package can be logged or stored safely.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from lead_pipeline.providers.redact import scrub


class ProviderError(Exception):
    """Base class. ``cost`` is money already spent on the failed call (an invalid
    LLM answer is still billed), so the caller can charge it to the row and run.
    ``retry_after`` is the wait the provider asked for, when it said (seconds)."""

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        status: int | None = None,
        cost: float = 0.0,
        retry_after: float | None = None,
        secrets: Iterable[object | None] = (),
    ) -> None:
        self.message = scrub(message, secrets)
        self.provider = provider
        self.status = status
        self.cost = cost
        self.retry_after = retry_after
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Subclasses take different constructor arguments; rebuilding from the
        # instance dict lets errors cross process boundaries (multiprocessing).
        return (_rebuild, (type(self), self.__dict__.copy()))


def _rebuild(cls: type[ProviderError], state: dict) -> ProviderError:
    error = cls.__new__(cls)
    Exception.__init__(error, state.get("message", ""))
    error.__dict__.update(state)
    return error


class RateLimited(ProviderError):
    """429s persisted past the retry budget, or asked for a wait longer than allowed."""

    retryable = True


class ProviderUnavailable(ProviderError):
    """5xx answers, timeouts or connection failures that outlasted the retries."""

    retryable = True


class QuotaExhausted(ProviderError):
    """The account's credits or usage limit for the period are spent: retrying cannot
    help, another provider might."""


class AuthError(ProviderError):
    """401/403: the key is wrong or lacks access; retrying cannot help."""


class InvalidAnswer(ProviderError):
    """The provider answered, but not with what was asked (bad JSON, wrong shape)."""


class UnpricedAnswer(ProviderError):
    """A number that prices the call (a token count) is negative, not an integer or past
    any real call: the call was paid, so it is charged at its estimated upper price, and it
    is not asked again (the same server would miscount again)."""


class BlockedURL(ProviderError):
    """A URL from lead data points somewhere this process must not reach."""


class FetchFailed(ProviderError):
    """A web page could not be read (HTTP error, redirect loop, not a web page)."""


class BudgetExceeded(ProviderError):
    """The run's ``max_cost`` is spent: no further paid call is made."""


class BudgetHeld(BudgetExceeded):
    """The call does not fit under ``max_cost`` only because other calls in flight hold
    reservations; ``state`` is the ledger's (reserved, spent) when it was refused, so a
    caller waiting for them to settle can tell whether anything moved."""

    def __init__(self, message: str, *, provider: str, state: tuple[int, int]) -> None:
        super().__init__(message, provider=provider)
        self.state = state


class NotConfigured(ProviderError):
    """No key for the provider; the message names the variables to set."""

    def __init__(self, what: str, env_vars: Sequence[str]) -> None:
        self.env_vars = list(env_vars)
        names = " or ".join(self.env_vars)
        super().__init__(f"{what} is not configured: set {names}", provider=what)


class WaterfallExhausted(ProviderError):
    """Every provider of a waterfall failed with an error (none merely found nothing)."""
