"""The node-type registry: the extension point every kind of node plugs into.

A node type is everything about one kind of node, in its own module: a
pydantic model for its configuration, an async ``run``, its preflight (which
key it needs), whether it runs inline, and its ``estimate`` (calls, price
range, latency, whether it reads the row), which ``--plan`` and the
``--max-cost`` question price it with. The engine only knows this interface,
so adding a provider means listing one more type, never touching the runner
or the planner. The built-in types and those of other packages are entry
points of one group, loaded the same way (``engine/plugins.py``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import EntryPoint
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

# The package only lists entry points (its modules load in load_group): no cycle.
from lead_pipeline.engine.node_types import BUILTIN
from lead_pipeline.engine.plugins import NODE_TYPES_GROUP, PluginError, load_group
from lead_pipeline.providers.errors import NotConfigured
from lead_pipeline.workflows.model import NodeConfigBase, OutputSpec

if TYPE_CHECKING:
    from lead_pipeline.engine.compile import CompiledNode
    from lead_pipeline.engine.estimates import CallEstimate, EstimateContext
    from lead_pipeline.engine.services import Services
    from lead_pipeline.settings import Settings

    # One row's estimate; ``values`` is None when an earlier node computes the inputs.
    EstimateFn = Callable[[CompiledNode, Mapping[str, Any] | None, EstimateContext], CallEstimate]

__all__ = [
    "NODE_TYPES_GROUP",
    "NodeConfig",
    "NotConfigured",
    "PluginError",
]  # preflight raises the providers' own error: one type, one message


NodeConfig = NodeConfigBase  # the base of every node type's configuration model


ConfigT = TypeVar("ConfigT", bound=NodeConfig)


class NodeError(Exception):
    """A node failed for this row only: recorded as the row's error, the run goes on."""


@dataclass
class NodeCall(Generic[ConfigT]):
    """Everything a node sees for one row."""

    row_id: str
    values: Mapping[str, Any]
    params: Mapping[str, Any]
    config: ConfigT
    outputs: Mapping[str, OutputSpec]
    services: Services


@dataclass
class NodeOutcome:
    """What a node answered for one row. What it cost is not part of it: the provider
    calls the node made through ``call.services.session`` are metered by the run's
    ledger, which is what the row's cost, the run's total and ``--max-cost`` read."""

    outputs: dict[str, Any]
    provider: str | None = None
    skipped: bool = False
    note: str | None = None
    # Evidence per output field (research nodes): stored with the result.
    evidence: dict[str, Any] | None = None
    unsupported: int | None = None


RunFn = Callable[[NodeCall[Any]], Awaitable[NodeOutcome]]
PreflightFn = Callable[[Any, Any], None]
AvailableFn = Callable[[Any], bool]
# Whether a node of this configuration runs inline under these settings (see NodeType.inline).
InlineFn = Callable[[Any, "Settings"], bool]

# The note a node records when it skipped only because its provider has no key.
# Selection re-runs such a node once ``available`` says the key is there.
UNCONFIGURED_NOTE = "skipped: provider not configured"


@dataclass(frozen=True)
class NodeType:
    """A kind of node: its configuration model, its runner and what it needs.

    ``template_fields`` and ``expression_fields`` come from the configuration
    model (see ``workflows.model.NodeConfigBase``): which settings are Jinja
    templates over the row and which are ``where``-style expressions, so the
    loader compiles exactly those and knows which columns a node reads.
    """

    name: str
    config_model: type[NodeConfig]
    run: RunFn
    preflight: PreflightFn | None = None
    available: AvailableFn | None = None
    description: str = ""
    kinds: frozenset[str] = field(default_factory=frozenset)
    # Runs inline in the event loop on this machine alone: no network, no user code, no
    # waiting. A workflow of such nodes only is not bound by ``parallel`` (engine.runner),
    # and its calls are not recorded for the row trace, since it makes none. A node type
    # that calls a provider for some configurations or settings (``founder_extract`` with
    # an LLM key) says so with a function of both: inline only when it calls nothing.
    inline: bool | InlineFn = False
    # How the plan prices a row of it (engine/estimates.py); None: reported as not priced.
    estimate: EstimateFn | None = None
    # Whether ``estimate`` looks at the row's values (a prompt's length, a query): when no
    # estimate does, the plan does not read them.
    reads_row: bool = True

    @property
    def template_fields(self) -> tuple[str, ...] | None:
        return self.config_model.template_fields

    @property
    def expression_fields(self) -> tuple[str, ...]:
        return self.config_model.expression_fields

    def __post_init__(self) -> None:
        if not (isinstance(self.config_model, type) and issubclass(self.config_model, NodeConfig)):
            raise TypeError(
                f"node type {self.name!r}: its configuration model must subclass "
                "lead_pipeline.engine.registry.NodeConfig (which says the template and "
                f"expression fields), not {self.config_model!r}"
            )

    def is_available(self, config: Any) -> bool:
        return self.available is None or self.available(config)

    def runs_inline(self, config: Any, settings: Settings) -> bool:
        """Whether a node of ``config`` calls nothing under ``settings`` (``inline``)."""
        return self.inline(config, settings) if callable(self.inline) else self.inline


def node_type(
    name: str,
    config_model: type[ConfigT],
    *,
    preflight: PreflightFn | None = None,
    available: AvailableFn | None = None,
    description: str = "",
    kinds: tuple[str, ...] = (),
    inline: bool | InlineFn = False,
    estimate: EstimateFn | None = None,
    reads_row: bool = True,
) -> Callable[[Callable[[NodeCall[ConfigT]], Awaitable[NodeOutcome]]], NodeType]:
    """Decorator making an async function the runner of a node type called ``name``.

    It only builds the :class:`NodeType`; listing it (``node_types.BUILTIN`` for
    ours, an entry point for a plugin's) is what makes workflows able to use it.
    """

    def wrap(fn: Callable[[NodeCall[ConfigT]], Awaitable[NodeOutcome]]) -> NodeType:
        return NodeType(
            name=name,
            config_model=config_model,
            run=fn,
            preflight=preflight,
            available=available,
            description=description or (fn.__doc__ or "").strip().split("\n")[0],
            kinds=frozenset(kinds),
            inline=inline,
            estimate=estimate,
            reads_row=reads_row,
        )

    return wrap


def _check(point: EntryPoint, value: object, where: str) -> None:
    if not isinstance(value, NodeType):
        raise PluginError(
            f"{where} is {type(value).__name__}, not a NodeType "
            "(decorate the runner with lead_pipeline.engine.registry.node_type)"
        )
    if value.name != point.name:
        raise PluginError(f"{where} is node type {value.name!r}: the names must match")


@cache
def registry() -> Mapping[str, NodeType]:
    """Every node type: the built-ins, then those plugins declare; built once per process.

    Both are entry points of the ``lead_pipeline.node_types`` group (``engine/plugins.py``).
    A plugin may not reuse a name: a workflow's ``type`` must mean one thing.
    """
    found = load_group(NODE_TYPES_GROUP, builtins=BUILTIN, check=_check, twice="node type")
    return MappingProxyType({name: cast(NodeType, value) for name, value in found.items()})


def reset_registry() -> None:
    """Forget the node types found, so a newly installed plugin is seen (tests)."""
    registry.cache_clear()


def config_models() -> dict[str, type[NodeConfig]]:
    return {name: nt.config_model for name, nt in registry().items()}
