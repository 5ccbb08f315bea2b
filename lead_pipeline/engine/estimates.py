"""What one node will call for one row, before anything is called: the planner's per-node view.

Each node type says how a row of it is priced: the ``estimate`` of its
:class:`~lead_pipeline.engine.registry.NodeType`, written in the node type's own
module beside its ``run`` (a node type from another package brings its own, so
``--plan`` prices it and ``--max-cost``'s question sees it). An estimate gives the
provider, the range of calls (a waterfall stops at the first useful answer, so it
makes between one call and one per provider), the range of cost from the price
table, whether the response cache already holds the answer, and how long a call
typically takes. ``values`` is None when the row's inputs to the node are not
known ahead (an earlier node of the same run computes them): then the range is as
wide as the configuration allows and nothing is assumed cached.

This module holds what estimates are made of. A node type without an estimate is
reported as not priced, never as free.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lead_pipeline.engine.compile import CompiledNode
from lead_pipeline.providers import PriceTable, ResponseCache, Usage, cache_key
from lead_pipeline.providers.llm import ANSWER_TOKENS as LONG_ANSWER_TOKENS
from lead_pipeline.providers.llm import CHARS_PER_TOKEN
from lead_pipeline.providers.policy import CACHE_FORMAT
from lead_pipeline.settings import Settings

# Seconds one call typically takes, for the time estimate (no provider publishes these).
LLM_CALL_S = 2.0
SEARCH_CALL_S = 1.0
FETCH_CALL_S = 1.0
API_CALL_S = 0.6
# Tokens assumed for an LLM answer when the node does not cap them: [short, long]. The long
# one and the characters per token are the provider's own (what a capped call reserves).
ANSWER_TOKENS = (60, LONG_ANSWER_TOKENS)


@dataclass
class CallEstimate:
    """One row's calls to one node. ``cached`` counts calls the cache would answer.

    ``latency_s``: how long one call typically takes; ``requests_per_second``: the
    provider's documented pace, used when no limit is configured for it.
    """

    provider: str | None
    calls_min: int = 0
    calls_max: int = 0
    cost_min: float = 0.0
    cost_max: float = 0.0
    cached: int = 0
    known: bool = True  # False: the node type has no estimate
    latency_s: float = API_CALL_S
    requests_per_second: float | None = None
    # An ``llm`` node's calls: the lane the cost above is in (``sync`` or ``batch``), and
    # the same calls priced in the other lane, so the plan shows what ``--lane`` changes.
    lane: str | None = None
    other_cost_min: float = 0.0
    other_cost_max: float = 0.0


@dataclass(frozen=True)
class EstimateContext:
    """What estimates read: prices, the response cache, the run's params, and the settings
    that say which providers have keys and which models answer."""

    prices: PriceTable
    cache: ResponseCache | None
    params: Mapping[str, Any]
    settings: Settings
    # The run's ``lane`` option (``enrich --lane``); None: each node's own, else sync.
    lane: str | None = None


def reads_row(node: CompiledNode) -> bool:
    """Whether estimating ``node`` for a row looks at the row (a prompt, a query, a domain).

    A node type without an estimate is estimated as unknown, without the row.
    """
    kind = node.node_type
    return kind.estimate is not None and kind.reads_row


def estimate(
    node: CompiledNode, values: Mapping[str, Any] | None, context: EstimateContext
) -> CallEstimate:
    fn = node.node_type.estimate
    if fn is None:
        return CallEstimate(provider=None, known=False)
    return fn(node, values, context)


def may_call(node: CompiledNode, context: EstimateContext) -> bool:
    """Whether ``node`` may call a provider for some row, which is what can cost money.

    Asked with the row's inputs unknown, so the answer is the widest the configuration
    allows (an ``llm`` node without a configured backend calls nothing); a node type
    without an estimate may call anything.
    """
    est = estimate(node, None, context)
    return not est.known or est.calls_max > 0


def offline(node: CompiledNode, values: Any, context: EstimateContext) -> CallEstimate:
    """The estimate of a node type that calls nothing: it runs here, for free."""
    return CallEstimate(provider=None, latency_s=0.0)


MISS = object()


def cached_answer(context: EstimateContext, provider: str, request: Any) -> Any:
    """The cached answer to ``request`` (what ``CallPolicy`` would use), or :data:`MISS`."""
    if context.cache is None:
        return MISS
    try:
        entry = context.cache.cache_get(cache_key(provider, request))
    except Exception:  # a broken cache means the call is paid: plan for that
        return MISS
    if isinstance(entry, dict) and entry.get("format") == CACHE_FORMAT:
        return entry.get("data")
    return MISS


def is_cached(context: EstimateContext, provider: str, request: Any) -> bool:
    return cached_answer(context, provider, request) is not MISS


def waterfall_estimate(
    providers: list[str], prices: list[float], cached_first: bool, latency_s: float
) -> CallEstimate:
    """At least the first provider's call (free if cached), at most one call to each."""
    if not providers:
        return CallEstimate(provider=None, latency_s=latency_s)
    first = 0.0 if cached_first else prices[0]
    return CallEstimate(
        provider=providers[0],
        calls_min=1,
        calls_max=len(providers),
        cost_min=first,
        cost_max=first + sum(prices[1:]),
        cached=1 if cached_first else 0,
        latency_s=latency_s,
    )


def llm_cost(
    context: EstimateContext,
    backend: str,
    model: str,
    prompt_chars: int,
    max_tokens: int | None,
    *,
    batch: bool = False,
) -> tuple[float, float]:
    """The cost range of one LLM call: a short answer and a long one (or ``max_tokens``);
    ``batch``: at the batch APIs' price."""
    tokens_in = max(1, prompt_chars // CHARS_PER_TOKEN)
    price = context.prices.batch_token_cost if batch else context.prices.token_cost
    short = min(ANSWER_TOKENS[0], max_tokens or 10**9)
    low = price(model, Usage(tokens_in, short), provider=backend)
    high = price(model, Usage(tokens_in, max_tokens or ANSWER_TOKENS[1]), provider=backend)
    return low, high
