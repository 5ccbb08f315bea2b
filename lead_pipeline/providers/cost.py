"""What a call costs: token usage times a price table, or a flat price per request."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lead_pipeline.providers.redact import get_logger
from lead_pipeline.settings import env_name, get_settings, parse_prices

PRICES_ENV = env_name("prices")

# USD per million input and output tokens, or USD per request (per match for email finders).
# Published list prices at the time of writing; override with LEAD_PIPELINE_PRICES.
DEFAULT_PRICES: dict[str, tuple[float, float] | float] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-5-nano": (0.05, 0.40),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5": (1.25, 10.00),
    "claude-3-5-haiku": (0.80, 4.00),
    "claude-haiku-4-5": (1.00, 5.00),
    "claude-sonnet-4": (3.00, 15.00),
    "claude-opus-4": (15.00, 75.00),
    "serper": 0.001,
    "brave": 0.005,
    "fetch": 0.0,
    # Email finders charge per match only (their clients price a "no match" at 0):
    # Hunter Starter, $49 for 2,000 searches a month; its verifier, $49 for 4,000
    # verifications; Apollo, $0.20 per additional credit (one per enriched email);
    # People Data Labs Pro, $98 for 350 person matches.
    "hunter": 0.0245,
    "hunter_verify": 0.01225,
    "apollo": 0.20,
    "pdl": 0.28,
}


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens
        )

    def as_dict(self) -> dict[str, int]:
        return {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens}


class PriceError(ValueError):
    """LEAD_PIPELINE_PRICES is not what it should be."""


def load_prices(raw: str | None = None) -> dict[str, tuple[float, float] | float]:
    """The default table overlaid with ``LEAD_PIPELINE_PRICES`` (or ``raw``, the same JSON)."""
    table: dict[str, tuple[float, float] | float] = dict(DEFAULT_PRICES)
    if raw is None:
        table.update(get_settings().prices)
        return table
    try:
        table.update(parse_prices(raw))
    except ValueError as exc:
        raise PriceError(f"{PRICES_ENV}: {exc}") from None
    return table


class PriceTable:
    """Looks prices up by exact name, then by longest prefix.

    Prefix matching lets dated snapshots ("gpt-4o-mini-2024-07-18") and Anthropic's
    dated model ids pick up their family's price without listing every release.
    """

    def __init__(self, prices: Mapping[str, tuple[float, float] | float] | None = None) -> None:
        self.prices = dict(load_prices() if prices is None else prices)
        self._warned: set[str] = set()

    def _lookup(self, name: str) -> tuple[float, float] | float | None:
        if name in self.prices:
            return self.prices[name]
        matches = [k for k in self.prices if name.startswith(k)]
        return self.prices[max(matches, key=len)] if matches else None

    def _unknown(self, name: str) -> None:
        if name not in self._warned:
            self._warned.add(name)
            get_logger().warning(
                "no price known for %r: its calls count as 0 against the budget; add it to %s",
                name,
                PRICES_ENV,
            )

    def token_cost(self, model: str, usage: Usage) -> float:
        entry = self._lookup(model)
        if entry is None:
            self._unknown(model)
            return 0.0
        if isinstance(entry, float):
            return entry
        return (usage.input_tokens * entry[0] + usage.output_tokens * entry[1]) / 1_000_000

    def request_cost(self, provider: str) -> float:
        entry = self._lookup(provider)
        if entry is None:
            self._unknown(provider)
            return 0.0
        if isinstance(entry, tuple):
            raise PriceError(f"{PRICES_ENV}: {provider!r} is priced per request, not per token")
        return entry
