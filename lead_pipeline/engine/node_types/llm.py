"""``llm`` nodes: ask an LLM for the node's declared outputs as validated JSON.

``if_unconfigured: skip`` lets a workflow use an LLM when a key is set and run
offline otherwise (the ``b2b_only`` cascade); ``fail`` (the default) stops the
workflow before any row when no backend is configured.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, cast

from pydantic import Field

from lead_pipeline.engine.batch_lane import BATCH, SYNC, WaitsOnBatch
from lead_pipeline.engine.estimates import LLM_CALL_S, CallEstimate, EstimateContext, llm_cost
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
    configured_llm_backends,
    llm_configured,
    question,
    resolve_backend,
    resolve_model,
)
from lead_pipeline.workflows.outputs import output_validator
from lead_pipeline.workflows.templates import render

if TYPE_CHECKING:
    from lead_pipeline.engine.compile import CompiledNode
    from lead_pipeline.settings import Settings


class LlmConfig(NodeConfig):
    template_fields: ClassVar[tuple[str, ...]] = ("prompt", "system")

    prompt: str
    system: str | None = None
    backend: Literal["openai", "anthropic"] | None = None
    model: str | None = None
    max_tokens: int | None = Field(default=None, gt=0)
    temperature: float | None = Field(default=0.0, ge=0, le=2)
    if_unconfigured: Literal["fail", "skip"] = "fail"
    # The lane this node's questions take when the run does not say (``enrich --lane``):
    # ``batch`` sends them as provider batches at half the price, answered within 24 h.
    # Not part of the node's configuration hash: an answer is the same in either lane.
    lane: Literal["sync", "batch"] | None = None


class LlmChoice(Protocol):
    """What says which LLM a node asks: ``llm`` and ``research`` nodes' configurations."""

    @property
    def backend(self) -> Literal["openai", "anthropic"] | None: ...


def _available(config: LlmChoice, settings: Settings | None = None) -> bool:
    """Whether a backend the node may use has a key, in ``settings`` (the environment's by
    default). A row passes the shard's own: reading the environment's again for every
    row cost about 0.2 ms of CPU per row (issue 22)."""
    if config.backend is None:
        return llm_configured(settings)
    return config.backend in configured_llm_backends(settings)


def _preflight(config: LlmConfig, _services: Any) -> None:
    if config.if_unconfigured == "fail" and not _available(config):
        names = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
        wanted = [names[config.backend]] if config.backend else list(names.values())
        raise NotConfigured("the llm node", wanted)


def _estimate(
    node: CompiledNode, values: Mapping[str, Any] | None, context: EstimateContext
) -> CallEstimate:
    """One completion per row, priced from the rendered prompt's length, in the run's lane
    (``--lane``, else the node's ``lane``, else sync) and in the other one.

    Synchronously, a structured answer that does not validate is asked once more; in the
    batch lane it fails the row (the next run asks again), so one call at most."""
    config = cast(LlmConfig, node.config)
    try:
        backend = resolve_backend(config.backend, context.settings)
    except NotConfigured:
        return CallEstimate(provider=None, latency_s=LLM_CALL_S)  # skipped, or refused
    model = resolve_model(backend, config.model, context.settings)
    if values is not None:
        try:
            text = render(config.prompt, values, params=context.params)
            text += render(config.system, values, params=context.params) if config.system else ""
        except Exception:
            text = config.prompt
    else:
        text = config.prompt + (config.system or "")
    low, high = llm_cost(context, backend, model, len(text), config.max_tokens)
    sync = (1, 2, low, 2 * high)
    low, high = llm_cost(context, backend, model, len(text), config.max_tokens, batch=True)
    batch = (1, 1, low, high)
    lane = context.lane or config.lane or SYNC
    calls_min, calls_max, cost_min, cost_max = batch if lane == BATCH else sync
    other = sync if lane == BATCH else batch
    return CallEstimate(
        backend,
        calls_min,
        calls_max,
        cost_min,
        cost_max,
        latency_s=LLM_CALL_S,
        lane=lane,
        other_cost_min=other[2],
        other_cost_max=other[3],
    )


@node_type(
    "llm",
    LlmConfig,
    preflight=_preflight,
    available=_available,
    kinds=("llm",),
    estimate=_estimate,
)
async def run_llm(call: NodeCall[LlmConfig]) -> NodeOutcome:
    """One structured completion per row, cached by prompt, model and schema."""
    config = call.config
    if not _available(config, call.services.session.settings):
        return NodeOutcome(outputs={}, skipped=True, note=UNCONFIGURED_NOTE)
    # The schema comes from the validator the runner checks the answer with.
    outputs = output_validator(call.outputs, "llm").column_schemas()
    if (call.services.options.lane or config.lane) == BATCH:
        return await _batch_lane(call, outputs)
    try:
        response = await complete_json(
            render(config.prompt, call.values, params=call.params),
            outputs,
            backend=config.backend,
            model=config.model,
            system=render(config.system, call.values, params=call.params)
            if config.system
            else None,
            session=call.services.session,
            max_tokens=config.max_tokens,
            temperature=config.temperature,
        )
    except ProviderError as exc:
        raise NodeError(str(exc)) from None
    return NodeOutcome(outputs=dict(response.data), provider=response.provider)


async def _batch_lane(call: NodeCall[LlmConfig], outputs: Mapping[str, Any]) -> NodeOutcome:
    """The response cache answers what it can; any other question joins the shard's batch."""
    config = call.config
    session = call.services.session
    try:
        q = question(
            render(config.prompt, call.values, params=call.params),
            outputs,
            backend=config.backend,
            model=config.model,
            system=render(config.system, call.values, params=call.params)
            if config.system
            else None,
            config=session.settings,
            max_tokens=config.max_tokens,
            temperature=config.temperature,
        )
    except NotConfigured as exc:
        raise NodeError(str(exc)) from None
    entry = await session.policy(q.backend).cached(q.request())
    if entry is not None:
        return NodeOutcome(outputs=dict(entry), provider=q.backend)
    raise WaitsOnBatch(q)
