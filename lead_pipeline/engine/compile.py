"""Turn a workflow spec into something runnable: node types resolved, configs parsed.

Compiling happens when the definitions load, so a bad node configuration fails
the code location once with a clear message instead of failing every row.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lead_pipeline.engine.registry import NodeConfig, NodeType, config_models, registry
from lead_pipeline.settings import Settings
from lead_pipeline.workflows.errors import WorkflowError
from lead_pipeline.workflows.expressions import Expression, compile_where
from lead_pipeline.workflows.inputs import NodeInputs
from lead_pipeline.workflows.loader import WorkflowSet, load_workflows
from lead_pipeline.workflows.model import NodeSpec, ParamValueError, WorkflowSpec, coerce_param
from lead_pipeline.workflows.outputs import OutputValidator, output_validator


@dataclass(frozen=True)
class CompiledNode:
    index: int
    spec: NodeSpec
    node_type: NodeType
    config: NodeConfig
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
class CompiledWorkflow:
    spec: WorkflowSpec
    nodes: tuple[CompiledNode, ...]
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


def _where(text: str | None, label: str) -> Expression | None:
    # The loader has already compiled every expression and reported errors with
    # file and node names; this only rebuilds the (cached) compiled form.
    return None if text is None else compile_where(text, label=label)


def compile_workflow(
    spec: WorkflowSpec, configs: Mapping[str, NodeConfig], workflows: WorkflowSet | None = None
) -> CompiledWorkflow:
    """Attach node types, parsed configurations and derived inputs (from the loader)."""
    types = registry()
    nodes = tuple(
        CompiledNode(
            index=index,
            spec=node,
            node_type=types[node.type],
            config=configs[node.id],
            when=_where(node.when, f"{spec.name}.{node.id}.when"),
            config_hash=node_hash,
            inputs=workflows.node_inputs(spec.name, node.id) if workflows else NodeInputs(),
        )
        for index, (node, node_hash) in enumerate(zip(spec.nodes, spec.node_hashes(), strict=True))
    )
    return CompiledWorkflow(
        spec=spec,
        nodes=nodes,
        where=_where(spec.where, f"{spec.name}.where"),
        list_columns=workflows.list_columns(spec.name) if workflows else {},
        provided_columns=workflows.provided_columns(spec.name) if workflows else frozenset(),
        upstream=tuple(
            s.name
            for s in (workflows.upstream_closure(spec.name) if workflows else ())
            if s.name != spec.name
        ),
    )


def load_compiled(
    dirs: Sequence[Path] | None = None, *, builtin_dirs: Sequence[Path] | None = None
) -> list[CompiledWorkflow]:
    """Every workflow, checked against the registered node types, in dependency order.

    The loader validates each node's configuration against its node type's model
    and raises one ``WorkflowError`` naming file, node and field for every
    problem; compiling then only attaches what it parsed.
    """
    workflows = load_workflows(dirs, node_types=config_models(), builtin_dirs=builtin_dirs)
    compiled = []
    for spec in workflows.ordered():
        configs = {}
        for node in spec.nodes:
            config = workflows.node_config(spec.name, node.id)
            assert isinstance(config, NodeConfig)
            configs[node.id] = config
        compiled.append(compile_workflow(spec, configs, workflows))
    return compiled
