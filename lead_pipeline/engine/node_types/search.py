"""``web_search`` nodes: a query per row through a waterfall of search providers.

The node stores the normalised results (title, url, snippet) in its output
column, so a later node (extraction) can be changed and re-run without paying
for the search again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal, cast

from pydantic import Field, model_validator

from lead_pipeline.engine.estimates import (
    SEARCH_CALL_S,
    CallEstimate,
    EstimateContext,
    is_cached,
    waterfall_estimate,
)
from lead_pipeline.engine.registry import NodeCall, NodeConfig, NodeError, NodeOutcome, node_type
from lead_pipeline.founders import founder_search_query
from lead_pipeline.providers import (
    NotConfigured,
    ProviderError,
    configured_search_providers,
    search_env_vars,
    web_search,
)
from lead_pipeline.providers.search import search_request
from lead_pipeline.providers.waterfall import waterfall
from lead_pipeline.workflows.templates import render

if TYPE_CHECKING:
    from lead_pipeline.engine.compile import CompiledNode

SEARCH_PROVIDERS: tuple[Literal["serper", "brave"], ...] = ("serper", "brave")


class WebSearchConfig(NodeConfig):
    template_fields: ClassVar[tuple[str, ...]] = ("query",)

    query: str | None = None
    preset: Literal["founders"] | None = Field(
        default=None, description="a built-in query: 'founders' searches LinkedIn profiles"
    )
    providers: list[Literal["serper", "brave"]] = Field(
        default_factory=lambda: list(SEARCH_PROVIDERS), min_length=1
    )
    num: int = Field(default=10, ge=1, le=20)

    def input_columns(self) -> list[tuple[str, str]]:
        if self.preset == "founders":
            return [("preset", "name"), ("preset", "website")]
        return []

    @model_validator(mode="after")
    def _one_query(self) -> WebSearchConfig:
        if (self.query is None) == (self.preset is None):
            raise ValueError("give exactly one of 'query' (a template) or 'preset'")
        return self


def _preflight(config: WebSearchConfig, _services: Any) -> None:
    if not set(config.providers) & set(configured_search_providers()):
        wanted = [v for v in search_env_vars() if any(p.upper() in v for p in config.providers)]
        raise NotConfigured("web search", wanted)


def _query(config: WebSearchConfig, values: Mapping[str, Any], params: Mapping[str, Any]) -> str:
    if config.preset == "founders":
        name = values.get("name")
        if not isinstance(name, str) or not name.strip():
            raise NodeError("the founders search needs a non-empty 'name' column")
        website = values.get("website")
        return founder_search_query(name, website if isinstance(website, str) else None)
    assert config.query is not None
    return render(config.query, values, params=params)


def _estimate(
    node: CompiledNode, values: Mapping[str, Any] | None, context: EstimateContext
) -> CallEstimate:
    """A waterfall over the configured providers: the first answers unless it finds
    nothing, and is free when its answer to this row's query is cached."""
    config = cast(WebSearchConfig, node.config)
    configured = set(configured_search_providers(context.settings))
    providers: list[str] = [p for p in config.providers if p in configured]
    cached = False
    if values is not None and providers:
        try:
            query = _query(config, values, context.params)
        except Exception:  # the node would fail this row without a call
            return CallEstimate(providers[0], latency_s=SEARCH_CALL_S)
        request = search_request(providers[0], query, config.num, context.settings)
        cached = is_cached(context, providers[0], request)
    prices = [context.prices.request_cost(p) for p in providers]
    return waterfall_estimate(providers, prices, cached, SEARCH_CALL_S)


@node_type(
    "web_search", WebSearchConfig, preflight=_preflight, kinds=("search",), estimate=_estimate
)
async def run_web_search(call: NodeCall[WebSearchConfig]) -> NodeOutcome:
    """The first provider with results answers; an honest 'no results' is an empty list."""
    query = _query(call.config, call.values, call.params)
    session = call.services.session

    async def ask(provider: str) -> Any:
        return await web_search(query, provider=provider, num=call.config.num, session=session)

    try:
        result = await waterfall(call.config.providers, ask, validate=bool)
    except ProviderError as exc:
        raise NodeError(str(exc)) from None
    column = next(iter(call.outputs))
    return NodeOutcome(
        outputs={column: list(result.value or [])},
        provider=result.provider or (result.attempts[-1].provider if result.attempts else None),
    )
