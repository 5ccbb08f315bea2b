"""``crm_match`` nodes: is the row's company already in the CRM (HubSpot)?

A cheap node to run before paid ones: it records ``in_crm``, the CRM's record
id, owner and lifecycle stage, and how it matched (``crm/match.py``: the
registrable domain, else the name under the founders' identity rules). Other
workflows then say ``where: "not in_crm"`` and spend nothing on companies the
CRM already has. Rows in flight share searches (up to 50 domains each), paced at
HubSpot's search limit; HubSpot reads are free, so the node costs nothing.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from lead_pipeline.crm.hubspot import TOKEN_ENV
from lead_pipeline.crm.match import session_matcher
from lead_pipeline.engine.estimates import API_CALL_S, CallEstimate
from lead_pipeline.engine.registry import NodeCall, NodeConfig, NodeError, NodeOutcome, node_type
from lead_pipeline.providers import NotConfigured, ProviderError
from lead_pipeline.settings import get_settings


class CrmMatchConfig(NodeConfig):
    template_fields: ClassVar[tuple[str, ...] | None] = ()  # renders no templates

    crm: Literal["hubspot"] = "hubspot"

    def input_columns(self) -> list[tuple[str, str]]:
        return [("crm", "name"), ("crm", "website")]


def _configured(_config: Any) -> bool:
    return get_settings().hubspot_access_token is not None


def _preflight(_config: CrmMatchConfig, _services: Any) -> None:
    if not _configured(_config):
        raise NotConfigured("the CRM match (HubSpot)", [TOKEN_ENV])


def _estimate(node: Any, values: Any, context: Any) -> CallEstimate:
    """Free, and batched: at most one search per row, usually one per 50 rows."""
    return CallEstimate("hubspot", 0, 1, 0.0, 0.0, latency_s=API_CALL_S)


@node_type(
    "crm_match",
    CrmMatchConfig,
    preflight=_preflight,
    available=_configured,
    kinds=("crm",),
    estimate=_estimate,
    reads_row=False,
)
async def run_crm_match(call: NodeCall[CrmMatchConfig]) -> NodeOutcome:
    """Match the row to a HubSpot company by domain, else by name; free (reads only)."""
    matcher = session_matcher(call.services.session)
    try:
        found = await matcher.match(call.values.get("name"), call.values.get("website"))
    except ProviderError as exc:
        raise NodeError(str(exc)) from None
    return NodeOutcome(outputs=found.outputs(), provider="hubspot")
