"""Several providers for one question, tried in order until an answer passes.

A node that lists ``[serper, brave]`` wants the first useful answer, not the
first answer: the validator decides what useful means, and the result says which
provider gave it so the row records its source.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from lead_pipeline.providers.errors import (
    BudgetExceeded,
    NotConfigured,
    ProviderError,
    WaterfallExhausted,
)
from lead_pipeline.providers.policy import ProviderResponse

OK = "ok"
REJECTED = "rejected"
ERROR = "error"
NOT_CONFIGURED = "not_configured"


@dataclass(frozen=True)
class Attempt:
    provider: str
    outcome: str  # ok | rejected | error | not_configured
    cost: float = 0.0
    cached: bool = False
    error: str | None = None


@dataclass
class WaterfallResult:
    """``provider`` is who answered (None when every answer was rejected); ``cost``
    sums all attempts, including rejected and failed ones that were billed."""

    value: Any = None
    provider: str | None = None
    response: ProviderResponse | None = None
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def found(self) -> bool:
        return self.provider is not None

    @property
    def cost(self) -> float:
        return sum(a.cost for a in self.attempts)


Validator = Callable[[Any], bool | Awaitable[bool]]


async def waterfall(
    providers: Sequence[str],
    call: Callable[[str], Awaitable[ProviderResponse]],
    *,
    validate: Validator | None = None,
) -> WaterfallResult:
    """Call ``call(provider)`` for each provider until ``validate(response.data)`` is true.

    Providers without a key are skipped; if none has one, :class:`NotConfigured`
    names all their variables. Other provider errors move on to the next provider.
    If no answer passes: a result with ``found`` False when at least one provider
    answered (the honest "nothing found"), :class:`WaterfallExhausted` when every
    provider failed. :class:`BudgetExceeded` stops the waterfall at once.
    """
    if not providers:
        raise ValueError("a waterfall needs at least one provider")
    result = WaterfallResult()
    missing: list[str] = []
    for provider in providers:
        try:
            response = await call(provider)
        except BudgetExceeded:
            raise
        except NotConfigured as exc:
            missing += [v for v in exc.env_vars if v not in missing]
            result.attempts.append(Attempt(provider, NOT_CONFIGURED, error=exc.message))
            continue
        except ProviderError as exc:
            result.attempts.append(Attempt(provider, ERROR, exc.cost, error=exc.message))
            continue
        verdict = True if validate is None else validate(response.data)
        if inspect.isawaitable(verdict):
            verdict = await verdict
        outcome = OK if verdict else REJECTED
        result.attempts.append(Attempt(provider, outcome, response.cost, response.cached))
        if verdict:
            result.value = response.data
            result.provider = provider
            result.response = response
            return result
    outcomes = {a.outcome for a in result.attempts}
    if outcomes == {NOT_CONFIGURED}:
        raise NotConfigured(f"providers {', '.join(providers)}", missing)
    if REJECTED not in outcomes:
        details = "; ".join(f"{a.provider}: {a.error}" for a in result.attempts)
        raise WaterfallExhausted(f"every provider failed: {details}", cost=result.cost)
    return result
