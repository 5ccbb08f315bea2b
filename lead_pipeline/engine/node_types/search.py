"""``web_search`` nodes: a query per row through a waterfall of search providers.

The node stores the normalised results (title, url, snippet) in its output
column, so a later node (extraction) can be changed and re-run without paying
for the search again.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from lead_pipeline.engine.registry import NodeCall, NodeConfig, NodeError, NodeOutcome, node_type
from lead_pipeline.founders import founder_search_query
from lead_pipeline.providers import (
    NotConfigured,
    ProviderError,
    configured_search_providers,
    search_env_vars,
    web_search,
)
from lead_pipeline.providers.waterfall import waterfall
from lead_pipeline.workflows.templates import render

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


def _query(call: NodeCall[WebSearchConfig]) -> str:
    if call.config.preset == "founders":
        name = call.values.get("name")
        if not isinstance(name, str) or not name.strip():
            raise NodeError("the founders search needs a non-empty 'name' column")
        website = call.values.get("website")
        return founder_search_query(name, website if isinstance(website, str) else None)
    assert call.config.query is not None
    return render(call.config.query, call.values, params=call.params)


@node_type("web_search", WebSearchConfig, preflight=_preflight, kinds=("search",))
async def run_web_search(call: NodeCall[WebSearchConfig]) -> NodeOutcome:
    """The first provider with results answers; an honest 'no results' is an empty list."""
    query = _query(call)
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
        cost=result.cost,
        provider=result.provider or (result.attempts[-1].provider if result.attempts else None),
    )
