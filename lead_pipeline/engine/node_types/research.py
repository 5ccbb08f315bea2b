"""``research`` nodes: search, read a few pages, and answer the declared outputs with
evidence that is checked before anything is stored.

The steps, each through the parts other node types use: the company's own site (its
``website``) and the search results of ``queries`` (the configured search providers, as
``web_search`` calls them) choose at most ``max_pages`` pages; they are fetched as
``fetch_page`` fetches (the URL guard on every hop, the size caps, the text extraction,
the response cache); then one structured LLM call (as ``llm`` makes it) answers every
output with a URL and a quote. :func:`research.evidence.check` then keeps each answer
only if its quote is on that page and holds its numbers; an answer that fails is stored
as no answer, with the reason, in the result's evidence, and counted as unsupported.

Pages are chosen before the model is asked and the model has no tool: no page can make
the node fetch another URL. Page hosts get a plain GET without any key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field

from lead_pipeline.domains import domain_name, host_of
from lead_pipeline.engine.estimates import LLM_CALL_S, CallEstimate, is_cached, llm_cost
from lead_pipeline.engine.node_types.llm import _available as llm_available
from lead_pipeline.engine.registry import (
    UNCONFIGURED_NOTE,
    NodeCall,
    NodeConfig,
    NodeError,
    NodeOutcome,
    node_type,
)
from lead_pipeline.providers import (
    NotConfigured,
    ProviderError,
    complete_json,
    configured_search_providers,
    fetch_page,
    resolve_backend,
    resolve_model,
    search_env_vars,
    web_search,
)
from lead_pipeline.providers.search import search_request
from lead_pipeline.providers.waterfall import waterfall
from lead_pipeline.research.evidence import PageTexts, check, page_key
from lead_pipeline.research.prompt import (
    SYSTEM,
    PageForModel,
    answer_schemas,
    build_prompt,
    read_answer,
)
from lead_pipeline.workflows.outputs import output_validator
from lead_pipeline.workflows.templates import render

SEARCH_PROVIDERS: tuple[Literal["serper", "brave"], ...] = ("serper", "brave")
MAX_QUOTE_KEPT = 600


class ResearchConfig(NodeConfig):
    template_fields: ClassVar[tuple[str, ...]] = ("question", "queries")

    question: str
    queries: list[str] | None = Field(
        default=None,
        max_length=5,
        description="search queries (templates); default: the company's name and domain",
    )
    max_pages: int = Field(default=3, ge=1, le=10)
    own_site: bool = Field(default=True, description="read the company's website first")
    providers: list[Literal["serper", "brave"]] = Field(
        default_factory=lambda: list(SEARCH_PROVIDERS), min_length=1
    )
    results_per_query: int = Field(default=5, ge=1, le=20)
    max_chars: int = Field(default=8_000, ge=500, le=50_000)  # of each page, for the model
    max_bytes: int = Field(default=2_000_000, ge=1_000)
    timeout: float = Field(default=20.0, gt=0)
    backend: Literal["openai", "anthropic"] | None = None
    model: str | None = None
    max_tokens: int | None = Field(default=None, gt=0)
    temperature: float | None = Field(default=0.0, ge=0, le=2)
    if_unconfigured: Literal["fail", "skip"] = "fail"

    def input_columns(self) -> list[tuple[str, str]]:
        reads = []
        if self.own_site or self.queries is None:
            reads.append(("own_site" if self.own_site else "queries", "website"))
        if self.queries is None:
            reads.append(("queries", "name"))
        return reads


def _search_providers(config: ResearchConfig, settings: Any = None) -> list[str]:
    configured = set(configured_search_providers(settings))
    return [p for p in config.providers if p in configured]


def _preflight(config: ResearchConfig, _services: Any) -> None:
    if config.if_unconfigured == "fail" and not llm_available(config):
        names = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
        wanted = [names[config.backend]] if config.backend else list(names.values())
        raise NotConfigured("the research node", wanted)
    if not config.own_site and not _search_providers(config):
        raise NotConfigured("the research node (own_site is off)", search_env_vars())


def default_query(values: Any) -> str | None:
    """The company's name and domain: what finds its own pages and pages about it."""
    name = values.get("name")
    name = " ".join(name.split()) if isinstance(name, str) else ""
    domain = domain_name(values.get("website")) or ""
    query = f"{name} {domain}".strip()
    return query or None


def queries(
    config: ResearchConfig, values: Mapping[str, Any], params: Mapping[str, Any]
) -> list[str]:
    if config.queries is None:
        query = default_query(values)
        return [query] if query else []
    rendered = (render(q, values, params=params).strip() for q in config.queries)
    return list(dict.fromkeys(q for q in rendered if q))


def own_site(call: NodeCall[ResearchConfig]) -> str | None:
    website = call.values.get("website")
    if not call.config.own_site or not isinstance(website, str) or not website.strip():
        return None
    return website.strip()


async def _search(call: NodeCall[ResearchConfig], providers: list[str]) -> list[str]:
    """Result URLs of every query, in rank order, the first query's first."""
    found: list[str] = []
    session = call.services.session
    for query in queries(call.config, call.values, call.params):

        async def ask(provider: str, query: str = query) -> Any:
            return await web_search(
                query, provider=provider, num=call.config.results_per_query, session=session
            )

        result = await waterfall(providers, ask, validate=bool)
        found += [r["url"] for r in result.value or [] if isinstance(r.get("url"), str)]
    return found


def choose_pages(website: str | None, results: list[str], limit: int) -> list[str]:
    """The pages to read: the own site first, then results on its domain, then others,
    each page once, at most ``limit``."""
    home = host_of(website) if website else None
    same = [u for u in results if home and host_of(u) == home]
    others = [u for u in results if not (home and host_of(u) == home)]
    chosen: dict[str, str] = {}
    for url in [*([website] if website else []), *same, *others]:
        chosen.setdefault(page_key(url), url)
        if len(chosen) == limit:
            break
    return list(chosen.values())


async def _read(call: NodeCall[ResearchConfig], url: str) -> dict[str, Any] | str:
    """The fetched page, or why it could not be read."""
    config = call.config
    try:
        response = await fetch_page(
            url,
            session=call.services.session,
            max_bytes=config.max_bytes,
            timeout=config.timeout,
            max_chars=config.max_chars,
        )
    except ProviderError as exc:
        return str(exc)
    page: dict[str, Any] = response.data
    if not (page.get("text") or "").strip():
        return f"{url}: no readable text"
    return page


def _estimate(node: Any, values: Any, context: Any) -> Any:
    return estimate_research(node, values, context)  # below, beside what it prices


@node_type(
    "research",
    ResearchConfig,
    preflight=_preflight,
    kinds=("llm", "search", "fetch"),
    estimate=_estimate,
)
async def run_research(call: NodeCall[ResearchConfig]) -> NodeOutcome:
    """Answers the declared outputs from a few pages, each with a quote checked on its page."""
    config = call.config
    if not llm_available(config, call.services.session.settings):
        return NodeOutcome(outputs={}, skipped=True, note=UNCONFIGURED_NOTE)
    website = own_site(call)
    providers = _search_providers(config, call.services.session.settings)
    try:
        results = await _search(call, providers) if providers else []
    except ProviderError as exc:
        raise NodeError(f"search: {exc}") from None
    urls = choose_pages(website, results, config.max_pages)
    if not urls:
        raise NodeError("no page to read: no website and no search result")
    read = await asyncio.gather(*(_read(call, url) for url in urls))
    pages = [p for p in read if isinstance(p, dict)]
    if not pages:
        problems = "; ".join(p for p in read if isinstance(p, str))
        raise NodeError(f"no page could be read: {problems}")

    validator = output_validator(call.outputs, "research")
    columns = validator.column_schemas()
    descriptions = {name: spec.description for name, spec in call.outputs.items()}
    prompt = build_prompt(
        render(config.question, call.values, params=call.params),
        descriptions,
        [PageForModel(p["final_url"], p.get("title"), p["text"]) for p in pages],
    )
    try:
        response = await complete_json(
            prompt,
            answer_schemas(columns),
            backend=config.backend,
            model=config.model,
            system=SYSTEM,
            session=call.services.session,
            schema_name="research",
            max_tokens=config.max_tokens,
            temperature=config.temperature,
        )
    except ProviderError as exc:
        raise NodeError(str(exc)) from None

    texts = PageTexts()
    fetched: dict[str, dict[str, Any]] = {}
    for page in pages:
        texts.add(page["text"], page["url"], page["final_url"])
        fetched.setdefault(page_key(page["url"]), page)
        fetched.setdefault(page_key(page["final_url"]), page)
    outputs: dict[str, Any] = {}
    evidence: dict[str, Any] = {}
    refused = 0
    for name in call.outputs:
        value, cited = read_answer(response.data, name)
        reason = check(value, cited, texts)
        if reason is not None:
            refused += 1
            outputs[name] = None
            evidence[name] = {
                "status": "unsupported",
                "reason": reason,
                "url": cited.url[:500] if cited else None,
                "quote": cited.quote[:MAX_QUOTE_KEPT] if cited else None,
            }
        elif value is None:
            outputs[name] = None
            evidence[name] = {"status": "no_answer"}
        else:
            assert cited is not None  # check() refuses an answer without evidence
            page = fetched[page_key(cited.url)]
            outputs[name] = value
            evidence[name] = {
                "status": "ok",
                "url": page["final_url"],
                "quote": cited.quote,
                "fetched_at": page.get("fetched_at"),
            }
    note = None
    if refused:
        reasons = "; ".join(
            f"{k}: {v['reason']}" for k, v in evidence.items() if v["status"] == "unsupported"
        )
        note = f"{refused} unsupported: {reasons}"[:1000]
    return NodeOutcome(
        outputs=outputs,
        provider=response.provider,
        note=note,
        evidence=evidence,
        unsupported=refused,
    )


def estimate_research(node: Any, values: Any, context: Any) -> Any:
    """The plan's view of one row: the searches (a waterfall per query), at most
    ``max_pages`` fetches, and one structured LLM answer (asked twice at worst) over a
    prompt of up to ``max_pages`` pages of ``max_chars``. The LLM's own calls set the
    node's provider in the plan; the calls and cost count all three kinds."""
    config: ResearchConfig = node.config
    try:
        backend = resolve_backend(config.backend, context.settings)
    except NotConfigured:
        return CallEstimate(provider=None, latency_s=LLM_CALL_S)  # skipped, or refused
    providers = _search_providers(config, context.settings)
    prices = [context.prices.request_cost(p) for p in providers]
    total = CallEstimate(backend, latency_s=LLM_CALL_S)
    if providers:
        if values is None:
            asked: list[str | None] = [None] * len(config.queries or [""])
        else:
            try:
                asked = list(queries(config, values, context.params))
            except Exception:  # the row would fail before a call
                asked = []
        for query in asked:
            cached = query is not None and is_cached(
                context,
                providers[0],
                search_request(providers[0], query, config.results_per_query, context.settings),
            )
            total.calls_min += 1
            total.calls_max += len(providers)
            total.cached += 1 if cached else 0
            first = 0.0 if cached else prices[0]
            total.cost_min += first
            total.cost_max += first + sum(prices[1:])
    fetch = context.prices.request_cost("fetch")
    total.calls_min += 1
    total.calls_max += config.max_pages
    total.cost_min += fetch
    total.cost_max += fetch * config.max_pages
    model = resolve_model(backend, config.model, context.settings)
    question = len(config.question) + len(SYSTEM)
    low, _ = llm_cost(context, backend, model, question + 1_000, config.max_tokens)
    _, high = llm_cost(
        context,
        backend,
        model,
        question + config.max_pages * config.max_chars,
        config.max_tokens or 1_500,
    )
    total.calls_min += 1
    total.calls_max += 2  # a structured answer that does not validate is asked once more
    total.cost_min += low
    total.cost_max += 2 * high
    return total
