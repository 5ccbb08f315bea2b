"""A workflow as the loader hands it out and the engine runs it: one object from file to run.

:func:`lead_pipeline.workflows.loader.load_workflows` builds each :class:`Workflow`
once, after every check passed: the file's spec, and on each :class:`Node` what
the checks learned of it (its node type, its validated configuration, its ``when``
expression, the columns and parameters it reads, its hash). Nothing is kept
beside it in tables keyed by name, and nothing copies it into another form.

The node type is a type parameter: the loader needs only what :class:`NodeKind`
says (the configuration model, for the checks), while the engine's nodes carry
its full ``NodeType`` (``engine.compile.CompiledWorkflow`` is ``Workflow[NodeType]``).
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

from pydantic import ConfigDict

from lead_pipeline.workflows.errors import WorkflowError
from lead_pipeline.workflows.expressions import Expression
from lead_pipeline.workflows.inputs import NodeInputs
from lead_pipeline.workflows.model import (
    NodeConfigBase,
    NodeSpec,
    ParamValueError,
    WorkflowSpec,
    coerce_param,
)
from lead_pipeline.workflows.outputs import OutputValidator, output_validator

if TYPE_CHECKING:
    from lead_pipeline.settings import Settings


class NodeKind(Protocol):
    """What a workflow needs of a node type (the engine's ``NodeType`` is one)."""

    @property
    def name(self) -> str: ...

    @property
    def config_model(self) -> type[NodeConfigBase]: ...

    @property
    def kinds(self) -> frozenset[str]: ...

    @property
    def preflight(self) -> Callable[[Any, Any], None] | None: ...

    def runs_inline(self, config: Any, settings: Settings) -> bool: ...


K = TypeVar("K", bound=NodeKind)


class UncheckedConfig(NodeConfigBase):
    """The configuration of a node loaded without node types (``load_workflows()``
    without ``node_types``): nothing is validated, and every string of the node's
    settings is compiled as a template, so the columns it reads are still known."""

    model_config = ConfigDict(extra="allow")
    template_fields: ClassVar[tuple[str, ...] | None] = None


@dataclass(frozen=True)
class PlainKind:
    """A node type that is only a name and a configuration model: each node of a workflow
    loaded without node types has one (its model, :class:`UncheckedConfig`, checks
    nothing), and a test can give the loader its own models with it."""

    name: str
    config_model: type[NodeConfigBase] = UncheckedConfig
    kinds: frozenset[str] = frozenset()
    preflight: Callable[[Any, Any], None] | None = None

    def runs_inline(self, config: Any, settings: Settings) -> bool:
        return False


@dataclass(frozen=True)
class Node(Generic[K]):
    """One node, with everything the checks learned of it."""

    index: int
    spec: NodeSpec
    node_type: K
    config: NodeConfigBase
    when: Expression | None
    config_hash: str
    inputs: NodeInputs = field(default_factory=NodeInputs)

    @property
    def id(self) -> str:
        return self.spec.id

    def runs_inline(self, settings: Settings) -> bool:
        """This node calls no provider under ``settings`` (``NodeType.runs_inline``)."""
        return self.node_type.runs_inline(self.config, settings)

    @functools.cached_property
    def validator(self) -> OutputValidator:
        """The validator of this node's declared outputs, looked up once: finding it by its
        declaration costs a JSON dump of every output spec, and it is asked for every row."""
        return output_validator(self.spec.outputs, self.id)


@dataclass(frozen=True)
class Workflow(Generic[K]):
    """A workflow that passed every check, with its nodes and what it reads."""

    spec: WorkflowSpec
    nodes: tuple[Node[K], ...]
    where: Expression | None
    # Columns only the lead list can provide, with the places that read them, and
    # the columns the pipeline provides itself (for "did you mean").
    list_columns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    provided_columns: frozenset[str] = frozenset()
    # Every workflow this one needs, directly or not: the only ones whose outputs it may read.
    upstream: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.spec.name

    def params(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Workflow parameters with per-run overrides, each of its declared type.

        Unknown names are refused, and so is a value that is not of the
        parameter's type (``llm_threshold=abc``), naming the type expected.
        """
        declared = self.spec.params
        merged = self.spec.param_defaults()
        for key, value in (overrides or {}).items():
            if key not in declared:
                known = ", ".join(sorted(declared)) or "none"
                raise WorkflowError(
                    f"workflow {self.name!r} has no parameter {key!r} (parameters: {known})"
                )
            try:
                merged[key] = coerce_param(value, declared[key].type)
            except ParamValueError as exc:
                raise WorkflowError(f"workflow {self.name!r} parameter {key!r}: {exc}") from None
        return merged

    def missing_columns(self, available: Iterable[str]) -> list[str]:
        """One line per column the workflow reads that neither the pipeline nor the lead
        list (``available``: its imported columns) provides, naming where it is read
        and the closest known column."""
        have = set(available)
        known = sorted(have | set(self.provided_columns))
        problems: list[str] = []
        for column, places in sorted(self.list_columns.items()):
            if column in have:
                continue
            close = difflib.get_close_matches(column, known, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            problems.append(
                f"{places[0]}: reads column {column!r}, which no lead field, imported column "
                f"or upstream output provides{hint}"
            )
        return problems

    def preflight(self, services: Any = None) -> None:
        """Raise ``NotConfigured`` when a node cannot run for any row (missing key...)."""
        for node in self.nodes:
            if node.node_type.preflight is not None:
                node.node_type.preflight(node.config, services)

    def runs_inline(self, settings: Settings) -> bool:
        """Every node runs inline on this machine under ``settings`` (``NodeType.inline``):
        no provider waits."""
        return all(node.runs_inline(settings) for node in self.nodes)

    def kinds(self) -> set[str]:
        kinds: set[str] = set()
        for node in self.nodes:
            kinds |= set(node.node_type.kinds)
        return kinds
