"""``founder_extract`` nodes: founders and LinkedIn profiles from stored search results.

Rule-based extraction always runs (offline, free). With an LLM configured and
``llm: auto``, the LLM reads the same results too; every person it proposes
must pass the same gates as the rules: a canonical profile URL that is one of
the search results (no invented profiles), a founder-like title, and a company
that the result itself names and that matches this lead (no namesakes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal, cast

from pydantic import Field

from lead_pipeline.engine.estimates import LLM_CALL_S, CallEstimate, EstimateContext, llm_cost
from lead_pipeline.engine.registry import NodeCall, NodeConfig, NodeError, NodeOutcome, node_type
from lead_pipeline.founders import (
    DEFAULT_LIMIT,
    Person,
    canonical_profile_url,
    company_matches,
    extract_people,
    founder_title,
)
from lead_pipeline.founders.identity import fold
from lead_pipeline.providers import (
    ProviderError,
    complete_json,
    llm_configured,
    resolve_backend,
    resolve_model,
)

if TYPE_CHECKING:
    from lead_pipeline.engine.compile import CompiledNode
    from lead_pipeline.settings import Settings

LLM_PERSON = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "title": {"type": "string"},
            "company": {"type": "string"},
            "linkedin_url": {"type": "string"},
        },
    },
}
PROMPT = """Below are web search results for LinkedIn profiles. List the people who are a \
founder, co-founder or CEO of the company "{name}" (website: {website}). Use only what the \
results say; copy each person's LinkedIn URL exactly as given, and the company name as the \
result writes it. Leave out anyone at a different company with a similar name.

{results}"""


class FounderExtractConfig(NodeConfig):
    template_fields: ClassVar[tuple[str, ...] | None] = ()  # renders no templates

    results: str = Field(default="founder_search_results", description="column of search results")
    llm: Literal["auto", "never"] = "auto"
    model: str | None = None
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=20)

    def input_columns(self) -> list[tuple[str, str]]:
        return [("results", self.results), ("(built in)", "name"), ("(built in)", "website")]


def _llm_people(
    proposed: Sequence[Mapping[str, Any]],
    results: Sequence[Mapping[str, Any]],
    name: str,
    website: str | None,
) -> list[Person]:
    """Keep only LLM answers the search results themselves support."""
    by_profile: dict[str, Mapping[str, Any]] = {}
    for result in results:
        profile = canonical_profile_url(str(result.get("url") or ""))
        if profile is not None:
            by_profile.setdefault(profile, result)
    people = []
    for person in proposed:
        profile = canonical_profile_url(str(person.get("linkedin_url") or ""))
        source = by_profile.get(profile) if profile else None
        title = founder_title(str(person.get("title") or ""))
        company = str(person.get("company") or "")
        if source is None or profile is None or title is None:
            continue
        if not str(person.get("name") or "").strip():
            continue
        text = fold(f"{source.get('title') or ''} {source.get('snippet') or ''}")
        if not company or fold(company) not in text or not company_matches(company, name, website):
            continue
        people.append(Person(str(person["name"]).strip(), title, profile, str(source["url"])))
    return people


def _estimate(
    node: CompiledNode, values: Mapping[str, Any] | None, context: EstimateContext
) -> CallEstimate:
    """Free without an LLM; with one, a question (two if the first answer does not fit)
    for a row whose search found something."""
    config = cast(FounderExtractConfig, node.config)
    if config.llm != "auto" or not llm_configured(context.settings):
        return CallEstimate(provider=None, latency_s=0.0)
    backend = resolve_backend(None, context.settings)
    results = (values or {}).get(config.results) if values is not None else None
    if values is not None and not results:
        return CallEstimate(provider=None, latency_s=0.0)  # no results: the LLM is not asked
    chars = sum(len(str(r)) for r in results) if isinstance(results, list) else 4000
    model = resolve_model(backend, config.model, context.settings)
    low, high = llm_cost(context, backend, model, chars + len(PROMPT), None)
    known = values is not None
    # An answer that does not fit the schema is asked once more (``complete_json``), as
    # for an ``llm`` node: two questions at most.
    return CallEstimate(
        backend, 1 if known else 0, 2, low if known else 0.0, 2 * high, latency_s=LLM_CALL_S
    )


def _offline(config: FounderExtractConfig, settings: Settings) -> bool:
    """Inline (rules only) unless it may ask the LLM: then it waits on a provider, so
    ``parallel`` bounds it and its calls are recorded for the row trace like any other."""
    return config.llm != "auto" or not llm_configured(settings)


@node_type(
    "founder_extract",
    FounderExtractConfig,
    kinds=("python",),
    inline=_offline,
    estimate=_estimate,
)
async def run_founder_extract(call: NodeCall[FounderExtractConfig]) -> NodeOutcome:
    """Writes ``founders`` (name, title, linkedin_url, source_url) and ``founder_count``."""
    config = call.config
    results = call.values.get(config.results) or []
    name = call.values.get("name")
    if not isinstance(name, str) or not name.strip():
        raise NodeError("founder extraction needs a non-empty 'name' column")
    if not isinstance(results, list):
        raise NodeError(f"column {config.results!r} is not a list of search results")
    website = call.values.get("website") if isinstance(call.values.get("website"), str) else None
    people = extract_people(results, name, website, limit=config.limit)
    provider = "rules"
    if config.llm == "auto" and llm_configured(call.services.session.settings) and results:
        listing = "\n".join(
            f"- {r.get('title') or ''} | {r.get('url') or ''} | {r.get('snippet') or ''}"
            for r in results
        )
        try:
            response = await complete_json(
                PROMPT.format(name=name, website=website or "unknown", results=listing),
                {"founders": LLM_PERSON},
                model=config.model,
                session=call.services.session,
            )
        except ProviderError as exc:
            raise NodeError(str(exc)) from None
        provider = f"rules+{response.provider}"
        known = {p.linkedin_url for p in people}
        for person in _llm_people(response.data.get("founders") or [], results, name, website):
            if person.linkedin_url not in known and len(people) < config.limit:
                people.append(person)
                known.add(person.linkedin_url)
    founders = [p.to_dict() for p in people]
    return NodeOutcome(
        outputs={"founders": founders, "founder_count": len(founders)},
        provider=provider,
    )
