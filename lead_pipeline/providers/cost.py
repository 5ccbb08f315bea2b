"""What a call costs: tokens priced by genai-prices (or our override), or a price per request.

Token prices come from genai-prices, a maintained table of the providers'
published prices that knows dated snapshots (``gpt-4o-mini-2024-07-18`` is
``gpt-4o-mini``) and cached-input rates, so a model is never billed at a
sibling's rate and cached input tokens cost what the provider charges for
them. ``LEAD_PIPELINE_PRICES`` overrides it, model by model, by exact name (a
negotiated rate, a self-hosted model). A model neither knows is counted at 0
and reported once per process, naming the model and the variable to set.

Search, fetch and email-finder prices are per request; no maintained table
has them, so they are kept with the settings (``settings.REQUEST_PRICES``), which
refuse a token price for any of them. An ``http`` node's provider is priced per
request too: by ``LEAD_PIPELINE_PRICES`` when it names it, else by the node's own
``cost_per_request``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass

from lead_pipeline.providers.redact import get_logger
from lead_pipeline.settings import REQUEST_PRICES, Price, env_name, get_settings

PRICES_ENV = env_name("prices")


# The LLM batch APIs' price: half the synchronous one (OpenAI's and Anthropic's published
# discount); ``LEAD_PIPELINE_PRICES`` can price ``"<model>:batch"`` itself.
BATCH_DISCOUNT = 0.5


@dataclass(frozen=True)
class Usage:
    """Tokens of one or more calls, as the provider reported them.

    ``input_tokens`` counts every input token; ``cached_input_tokens`` and
    ``cache_write_tokens`` say how many of them were read from or written to
    the provider's prompt cache, which are billed at their own rates.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cached_input_tokens + other.cached_input_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
        )

    def as_dict(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cached_input_tokens": self.cached_input_tokens,
            "cache_write_tokens": self.cache_write_tokens,
        }


class PriceError(ValueError):
    """LEAD_PIPELINE_PRICES is not what it should be."""


_reported: set[str] = set()
_reported_lock = threading.Lock()


def _report_unknown(name: str, what: str, example: str) -> None:
    """Warn about an unpriced model or provider once per process, however many tables ask."""
    with _reported_lock:
        if name in _reported:
            return
        _reported.add(name)
    get_logger().warning(
        "no price known for %s %r: its calls are counted at $0, so the cost column and "
        "--max-cost leave them out; price it with %s='{\"%s\": %s}'",
        what,
        name,
        PRICES_ENV,
        name,
        example,
    )


def _override_cost(price: tuple[float, ...], usage: Usage) -> float:
    """Tokens at an override's rates; cached input at its third number, else the input rate."""
    cached_rate = price[2] if len(price) > 2 else price[0]
    fresh = usage.input_tokens - usage.cached_input_tokens
    return (
        fresh * price[0] + usage.cached_input_tokens * cached_rate + usage.output_tokens * price[1]
    ) / 1_000_000


def _listed_cost(model: str, usage: Usage, provider: str | None) -> float | None:
    """The price genai-prices gives ``model`` (at ``provider``), or None when it lists neither."""
    # Imported here: loading its table costs 0.14 s of CPU (measured at load 20 on 2
    # cores), and most commands never price a token.
    from genai_prices import Usage as ListedUsage
    from genai_prices import calc_price

    listed = ListedUsage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cached_input_tokens or None,
        cache_write_tokens=usage.cache_write_tokens or None,
    )
    try:
        return float(calc_price(listed, model, provider_id=provider).total_price)
    except LookupError:
        return None


class PriceTable:
    """Prices calls: ``LEAD_PIPELINE_PRICES`` by exact name first, then the maintained tables.

    Exact names only: a prefix would price ``gpt-4o-mini`` at an override meant
    for ``gpt-4o``; genai-prices does the matching of dated snapshots itself.
    """

    def __init__(self, overrides: Mapping[str, Price] | None = None) -> None:
        self.overrides = dict(get_settings().prices if overrides is None else overrides)
        # Models and providers this table counted at $0 for want of a price (the plan
        # names them beside its total).
        self.unpriced: set[str] = set()

    def token_cost(self, model: str, usage: Usage, *, provider: str | None = None) -> float:
        """What ``usage`` of ``model`` costs; ``provider`` (``openai``, ``anthropic``) picks
        whose published price applies when more than one serves the model."""
        entry = self.overrides.get(model)
        if isinstance(entry, float):
            return entry  # a model priced per call
        if entry is not None:
            return _override_cost(entry, usage)
        cost = _listed_cost(model, usage, provider)
        if cost is None:
            self.unpriced.add(model)
            _report_unknown(model, "model (genai-prices does not list it)", "[input, output]")
            return 0.0
        return cost

    def batch_token_cost(self, model: str, usage: Usage, *, provider: str | None = None) -> float:
        """What ``usage`` of ``model`` costs through a provider's batch API:
        ``LEAD_PIPELINE_PRICES``' ``"<model>:batch"`` if set, else :data:`BATCH_DISCOUNT`
        of the synchronous price. The one batch price, for the plan and the recorded cost."""
        entry = self.overrides.get(f"{model}:batch")
        if isinstance(entry, float):
            return entry
        if entry is not None:
            return _override_cost(entry, usage)
        return BATCH_DISCOUNT * self.token_cost(model, usage, provider=provider)

    def request_cost(self, provider: str, default: float | None = None) -> float:
        """A request's price: the override, else the list price, else ``default`` (an
        ``http`` node's ``cost_per_request``), else $0 with a warning."""
        entry = self.overrides.get(provider, REQUEST_PRICES.get(provider, default))
        if entry is None:
            self.unpriced.add(provider)
            _report_unknown(provider, "provider", "price_per_request")
            return 0.0
        if isinstance(entry, tuple):
            raise PriceError(f"{PRICES_ENV}: {provider!r} is priced per request, not per token")
        return entry
