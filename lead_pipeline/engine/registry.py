"""The node-type registry: the extension point every kind of node plugs into.

A node type is a pydantic model for its configuration plus an async ``run``.
The engine only knows this interface, so adding a provider means registering
one more type, never touching the runner.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from lead_pipeline.providers.errors import NotConfigured
from lead_pipeline.workflows.model import NodeSpec, OutputSpec

__all__ = ["NotConfigured"]  # preflight raises the providers' own error: one type, one message


class NodeConfig(BaseModel):
    """Base for node configurations: unknown keys are mistakes, not extensions."""

    model_config = ConfigDict(extra="forbid")


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
    services: Any


@dataclass
class NodeOutcome:
    outputs: dict[str, Any]
    cost: float = 0.0
    provider: str | None = None
    skipped: bool = False
    note: str | None = None


RunFn = Callable[[NodeCall[Any]], Awaitable[NodeOutcome]]
PreflightFn = Callable[[Any, Any], None]
AvailableFn = Callable[[Any], bool]

# The note a node records when it skipped only because its provider has no key.
# Selection re-runs such a node once ``available`` says the key is there.
UNCONFIGURED_NOTE = "skipped: provider not configured"


@dataclass(frozen=True)
class NodeType:
    name: str
    config_model: type[NodeConfig]
    run: RunFn
    preflight: PreflightFn | None = None
    available: AvailableFn | None = None
    description: str = ""
    kinds: frozenset[str] = field(default_factory=frozenset)

    def is_available(self, config: Any) -> bool:
        return self.available is None or self.available(config)

    def parse(self, spec: NodeSpec) -> NodeConfig:
        return self.config_model.model_validate(spec.config)


_REGISTRY: dict[str, NodeType] = {}


def register(node_type: NodeType) -> NodeType:
    if node_type.name in _REGISTRY and _REGISTRY[node_type.name] is not node_type:
        raise ValueError(f"node type {node_type.name!r} is registered twice")
    _REGISTRY[node_type.name] = node_type
    return node_type


def node_type(
    name: str,
    config_model: type[ConfigT],
    *,
    preflight: PreflightFn | None = None,
    available: AvailableFn | None = None,
    description: str = "",
    kinds: tuple[str, ...] = (),
) -> Callable[[Callable[[NodeCall[ConfigT]], Awaitable[NodeOutcome]]], NodeType]:
    """Decorator registering an async function as the runner of node type ``name``."""

    def wrap(fn: Callable[[NodeCall[ConfigT]], Awaitable[NodeOutcome]]) -> NodeType:
        return register(
            NodeType(
                name=name,
                config_model=config_model,
                run=fn,  # type: ignore[arg-type]
                preflight=preflight,
                available=available,
                description=description or (fn.__doc__ or "").strip().split("\n")[0],
                kinds=frozenset(kinds),
            )
        )

    return wrap


def registry() -> Mapping[str, NodeType]:
    """Every node type, with the built-in ones loaded."""
    from lead_pipeline.engine import node_types  # noqa: F401  (registers on import)

    return dict(_REGISTRY)


def config_models() -> dict[str, type[NodeConfig]]:
    return {name: nt.config_model for name, nt in registry().items()}
