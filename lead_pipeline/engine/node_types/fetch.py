"""``fetch_page`` nodes: a lead's website as readable text, behind the SSRF guard.

Lead data is untrusted: a website column can point at 127.0.0.1 or a cloud
metadata address. The fetcher refuses private, loopback and link-local targets
after DNS resolution and after every redirect, unless the operator sets
``LEAD_PIPELINE_ALLOW_PRIVATE_URLS``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from lead_pipeline.engine.estimates import FETCH_CALL_S, CallEstimate, EstimateContext
from lead_pipeline.engine.registry import NodeCall, NodeConfig, NodeError, NodeOutcome, node_type
from lead_pipeline.providers import ProviderError, fetch_page
from lead_pipeline.workflows.templates import render

if TYPE_CHECKING:
    from lead_pipeline.engine.compile import CompiledNode


class FetchPageConfig(NodeConfig):
    template_fields: ClassVar[tuple[str, ...]] = ("url",)

    url: str = "{{ website }}"
    max_chars: int = Field(default=20_000, ge=100)
    max_bytes: int = Field(default=2_000_000, ge=1_000)
    timeout: float = Field(default=20.0, gt=0)
    max_redirects: int = Field(default=5, ge=0, le=20)


def _estimate(node: CompiledNode, values: Any, context: EstimateContext) -> CallEstimate:
    """One page request per row, at the price table's price for a fetch."""
    price = context.prices.request_cost("fetch")
    return CallEstimate("fetch", 1, 1, price, price, latency_s=FETCH_CALL_S)


@node_type("fetch_page", FetchPageConfig, kinds=("fetch",), estimate=_estimate, reads_row=False)
async def run_fetch_page(call: NodeCall[FetchPageConfig]) -> NodeOutcome:
    """Writes the page's text to the first output column and its title to a second, if any."""
    config = call.config
    url = render(config.url, call.values, params=call.params).strip()
    if not url:
        raise NodeError("no URL to fetch (the url template rendered empty)")
    try:
        response = await fetch_page(
            url,
            session=call.services.session,
            max_bytes=config.max_bytes,
            max_redirects=config.max_redirects,
            timeout=config.timeout,
            max_chars=config.max_chars,
        )
    except ProviderError as exc:
        raise NodeError(str(exc)) from None
    page = response.data
    columns = list(call.outputs)
    outputs = {columns[0]: page.get("text")}
    if len(columns) > 1:
        outputs[columns[1]] = page.get("title")
    return NodeOutcome(outputs=outputs, provider="fetch")
