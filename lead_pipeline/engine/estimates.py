"""What one node will call for one row, before anything is called: the planner's per-node view.

Each built-in node type has an estimator giving the provider, the range of
calls (a waterfall stops at the first useful answer, so it makes between one
call and one per provider), the range of cost from the price table, and
whether the response cache already holds the answer. ``values`` is None when
the row's inputs to this node are not known ahead (an earlier node of the
same run computes them): then the range is as wide as the configuration
allows and nothing is assumed cached.

A node type without an estimator is reported as such, never as free.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lead_pipeline.engine.compile import CompiledNode
from lead_pipeline.engine.registry import NodeCall
from lead_pipeline.providers import PriceTable, ResponseCache, Usage, cache_key
from lead_pipeline.providers.policy import CACHE_FORMAT
from lead_pipeline.settings import Settings

# Seconds one call typically takes, for the time estimate (no provider publishes these).
TYPICAL_LATENCY_S = {"llm": 2.0, "search": 1.0, "fetch": 1.0, "api": 0.6}
# Tokens assumed for an LLM answer when the node does not cap them: [short, long].
ANSWER_TOKENS = (60, 400)
CHARS_PER_TOKEN = 4


@dataclass
class CallEstimate:
    """One row's calls to one node. ``cached`` counts calls the cache would answer."""

    provider: str | None
    calls_min: int = 0
    calls_max: int = 0
    cost_min: float = 0.0
    cost_max: float = 0.0
    cached: int = 0
    known: bool = True  # False: no estimator for this node type
    kind: str = "api"


@dataclass(frozen=True)
class EstimateContext:
    """What estimates read: prices, the response cache, the run's params, and the settings
    that say which providers have keys and which models answer."""

    prices: PriceTable
    cache: ResponseCache | None
    params: Mapping[str, Any]
    settings: Settings


Estimator = Callable[[CompiledNode, Mapping[str, Any] | None, EstimateContext], CallEstimate]
ESTIMATORS: dict[str, Estimator] = {}
# Node types whose estimate does not look at the row (a fixed price, or nothing to pay).
ROW_FREE: set[str] = set()


def estimator(*names: str, reads_row: bool = True) -> Callable[[Estimator], Estimator]:
    """Register ``fn`` as the estimator of node types ``names``; ``reads_row=False`` says
    it never looks at the row's values, so a plan need not read them for it."""

    def wrap(fn: Estimator) -> Estimator:
        for name in names:
            ESTIMATORS[name] = fn
            if not reads_row:
                ROW_FREE.add(name)
        return fn

    return wrap


def reads_row(node: CompiledNode) -> bool:
    """Whether estimating ``node`` for a row looks at the row (a prompt, a query, a domain).

    A node type without an estimator is estimated as unknown, without the row.
    """
    return node.spec.type in ESTIMATORS and node.spec.type not in ROW_FREE


def estimate(
    node: CompiledNode, values: Mapping[str, Any] | None, context: EstimateContext
) -> CallEstimate:
    fn = ESTIMATORS.get(node.spec.type)
    if fn is None:
        return CallEstimate(provider=None, known=False)
    return fn(node, values, context)


def may_call(node: CompiledNode, context: EstimateContext) -> bool:
    """Whether ``node`` may call a provider for some row, which is what can cost money.

    Asked with the row's inputs unknown, so the answer is the widest the configuration
    allows (an ``llm`` node without a configured backend calls nothing); a node type
    without an estimator may call anything.
    """
    est = estimate(node, None, context)
    return not est.known or est.calls_max > 0


_MISS = object()


def cached_answer(context: EstimateContext, provider: str, request: Any) -> Any:
    """The cached answer to ``request`` (what ``CallPolicy`` would use), or ``_MISS``."""
    if context.cache is None:
        return _MISS
    try:
        entry = context.cache.cache_get(cache_key(provider, request))
    except Exception:  # a broken cache means the call is paid: plan for that
        return _MISS
    if isinstance(entry, dict) and entry.get("format") == CACHE_FORMAT:
        return entry.get("data")
    return _MISS


def is_cached(context: EstimateContext, provider: str, request: Any) -> bool:
    return cached_answer(context, provider, request) is not _MISS


def _call(node: CompiledNode, values: Mapping[str, Any], params: Mapping[str, Any]) -> NodeCall:
    return NodeCall(
        row_id="",
        values=values,
        params=params,
        config=node.config,
        outputs=node.spec.outputs,
        services=None,
    )


@estimator("b2b_classifier", "expression", "python", reads_row=False)
def _offline(node: CompiledNode, values: Any, context: EstimateContext) -> CallEstimate:
    return CallEstimate(provider=None, kind="python")


@estimator("fetch_page", reads_row=False)
def _fetch(node: CompiledNode, values: Any, context: EstimateContext) -> CallEstimate:
    price = context.prices.request_cost("fetch")
    return CallEstimate("fetch", 1, 1, price, price, kind="fetch")


def _waterfall(
    providers: list[str],
    prices: list[float],
    cached_first: bool,
    kind: str,
) -> CallEstimate:
    """At least the first provider's call (free if cached), at most one call to each."""
    if not providers:
        return CallEstimate(provider=None, kind=kind)
    first = 0.0 if cached_first else prices[0]
    return CallEstimate(
        provider=providers[0],
        calls_min=1,
        calls_max=len(providers),
        cost_min=first,
        cost_max=first + sum(prices[1:]),
        cached=1 if cached_first else 0,
        kind=kind,
    )


@estimator("web_search")
def _web_search(
    node: CompiledNode, values: Mapping[str, Any] | None, context: EstimateContext
) -> CallEstimate:
    from lead_pipeline.engine.node_types.search import _query
    from lead_pipeline.providers.search import configured_search_providers, search_request

    configured = set(configured_search_providers(context.settings))
    providers = [p for p in node.config.providers if p in configured]  # type: ignore[attr-defined]
    cached = False
    if values is not None and providers:
        try:
            query = _query(_call(node, values, context.params))
        except Exception:  # the node would fail this row without a call
            return CallEstimate(providers[0], kind="search")
        cached = is_cached(
            context,
            providers[0],
            search_request(providers[0], query, node.config.num, context.settings),  # type: ignore[attr-defined]
        )
    prices = [context.prices.request_cost(p) for p in providers]
    return _waterfall(providers, prices, cached, "search")


def _llm_cost(
    context: EstimateContext,
    backend: str,
    model: str,
    prompt_chars: int,
    max_tokens: int | None,
) -> tuple[float, float]:
    tokens_in = max(1, prompt_chars // CHARS_PER_TOKEN)
    low = context.prices.token_cost(
        model, Usage(tokens_in, min(ANSWER_TOKENS[0], max_tokens or 10**9)), provider=backend
    )
    high = context.prices.token_cost(
        model, Usage(tokens_in, max_tokens or ANSWER_TOKENS[1]), provider=backend
    )
    return low, high


@estimator("llm")
def _llm(
    node: CompiledNode, values: Mapping[str, Any] | None, context: EstimateContext
) -> CallEstimate:
    from lead_pipeline.providers import NotConfigured, resolve_backend, resolve_model
    from lead_pipeline.workflows.templates import render

    config: Any = node.config
    try:
        backend = resolve_backend(config.backend, context.settings)
    except NotConfigured:
        return CallEstimate(provider=None, kind="llm")  # skipped, or refused at preflight
    model = resolve_model(backend, config.model, context.settings)
    if values is not None:
        try:
            text = render(config.prompt, values, params=context.params)
            text += render(config.system, values, params=context.params) if config.system else ""
        except Exception:
            text = config.prompt
    else:
        text = config.prompt + (config.system or "")
    low, high = _llm_cost(context, backend, model, len(text), config.max_tokens)
    # A structured answer that does not validate is asked once more.
    return CallEstimate(backend, 1, 2, low, 2 * high, kind="llm")


@estimator("research")
def _research(
    node: CompiledNode, values: Mapping[str, Any] | None, context: EstimateContext
) -> CallEstimate:
    from lead_pipeline.engine.node_types.research import estimate_research

    estimate: CallEstimate = estimate_research(node, values, context)
    return estimate


@estimator("founder_extract")
def _founder_extract(
    node: CompiledNode, values: Mapping[str, Any] | None, context: EstimateContext
) -> CallEstimate:
    from lead_pipeline.providers import llm_configured, resolve_backend, resolve_model

    config: Any = node.config
    if config.llm != "auto" or not llm_configured(context.settings):
        return CallEstimate(provider=None, kind="python")
    backend = resolve_backend(None, context.settings)
    results = (values or {}).get(config.results) if values is not None else None
    if values is not None and not results:
        return CallEstimate(provider=None, kind="python")  # no results: the LLM is not asked
    chars = sum(len(str(r)) for r in results) if isinstance(results, list) else 4000
    model = resolve_model(backend, config.model, context.settings)
    low, high = _llm_cost(context, backend, model, chars + 600, None)
    return CallEstimate(
        backend, 0 if values is None else 1, 1, 0.0 if values is None else low, high, kind="llm"
    )


@estimator("http", reads_row=False)
def _http(node: CompiledNode, values: Any, context: EstimateContext) -> CallEstimate:
    config: Any = node.config
    return CallEstimate(
        config.provider, 1, 1, config.cost_per_request, config.cost_per_request, kind="api"
    )


@estimator("work_email")
def _work_email(
    node: CompiledNode, values: Mapping[str, Any] | None, context: EstimateContext
) -> CallEstimate:
    from lead_pipeline.engine.node_types.email import _founders
    from lead_pipeline.founders.emails import check_work_email, company_domain
    from lead_pipeline.providers.email_finders import (
        HUNTER_VERIFY,
        PersonQuery,
        configured_email_finders,
        finder_request,
        verifier_configured,
        verify_request,
    )

    config: Any = node.config
    configured = set(configured_email_finders(context.settings))
    providers = [p for p in config.providers if p in configured]
    if not providers:
        return CallEstimate(provider=None)
    verify = (
        context.prices.request_cost(HUNTER_VERIFY)
        if (config.verify == "auto" and verifier_configured(context.settings))
        else 0.0
    )
    prices = [context.prices.request_cost(p) for p in providers]
    if values is None:
        people: list[PersonQuery | None] = [None] * config.limit
        surely = 0
    else:
        domain = company_domain(values.get(config.website))
        try:
            founders = _founders(_call(node, values, context.params))
        except Exception:
            founders = []
        if domain is None:
            founders = []
        company = values.get("name") if isinstance(values.get("name"), str) else None
        people = [
            PersonQuery(f["name"].strip(), domain or "", company, f.get("linkedin_url") or None)
            for f in founders
        ]
        surely = len(people)
    total = CallEstimate(providers[0], kind="api")
    for index, person in enumerate(people):
        total.calls_min += 1 if index < surely else 0
        # Finders charge per match only, so a founder may cost nothing; at worst every
        # finder matches, the gate refuses each answer, and each was verified. A cached
        # answer is free, and one that passes the gate ends the waterfall.
        for provider, price in zip(providers, prices, strict=True):
            data = (
                _MISS
                if person is None
                else cached_answer(
                    context, provider, finder_request(provider, person, context.settings)
                )
            )
            if data is _MISS:
                total.calls_max += 2 if verify else 1
                total.cost_max += price + verify
                continue
            total.calls_max += 1
            total.cached += 1
            website = values.get(config.website) if values else None
            check = check_work_email(data.get("email"), website) if isinstance(data, dict) else None
            if check is not None and check.ok:
                if verify and not is_cached(
                    context, HUNTER_VERIFY, verify_request(check.email or "", context.settings)
                ):
                    total.calls_max += 1
                    total.cost_max += verify
                break
    return total
