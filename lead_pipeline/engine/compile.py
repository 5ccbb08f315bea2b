"""Turn a workflow spec into something runnable: node types resolved, configs parsed.

Compiling happens when the definitions load, so a bad node configuration fails
the code location once with a clear message instead of failing every row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lead_pipeline.engine.registry import NodeConfig, NodeType, config_models, registry
from lead_pipeline.workflows.expressions import Expression, compile_where
from lead_pipeline.workflows.loader import load_workflows
from lead_pipeline.workflows.model import NodeSpec, WorkflowSpec


class WorkflowConfigError(ValueError):
    """A workflow that cannot run as written; the message names file, node and field."""


@dataclass(frozen=True)
class CompiledNode:
    index: int
    spec: NodeSpec
    node_type: NodeType
    config: NodeConfig
    when: Expression | None
    config_hash: str

    @property
    def id(self) -> str:
        return self.spec.id


@dataclass(frozen=True)
class CompiledWorkflow:
    spec: WorkflowSpec
    nodes: tuple[CompiledNode, ...]
    where: Expression | None

    @property
    def name(self) -> str:
        return self.spec.name

    def params(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Workflow parameters with per-run overrides; unknown names are refused."""
        merged = dict(self.spec.params)
        for key, value in (overrides or {}).items():
            if key not in merged:
                known = ", ".join(sorted(merged)) or "none"
                raise WorkflowConfigError(
                    f"workflow {self.name!r} has no parameter {key!r} (parameters: {known})"
                )
            merged[key] = value
        return merged

    def preflight(self, services: Any = None) -> None:
        """Raise ``NotConfigured`` when a node cannot run for any row (missing key...)."""
        for node in self.nodes:
            if node.node_type.preflight is not None:
                node.node_type.preflight(node.config, services)

    def kinds(self) -> set[str]:
        kinds: set[str] = set()
        for node in self.nodes:
            kinds |= set(node.node_type.kinds)
        return kinds


def _where(text: str | None, label: str) -> Expression | None:
    # The loader has already compiled every expression and reported errors with
    # file and node names; this only rebuilds the (cached) compiled form.
    return None if text is None else compile_where(text, label=label)


def compile_workflow(spec: WorkflowSpec, configs: Mapping[str, NodeConfig]) -> CompiledWorkflow:
    """Attach node types and parsed configurations (from the loader) to a workflow."""
    types = registry()
    nodes = tuple(
        CompiledNode(
            index=index,
            spec=node,
            node_type=types[node.type],
            config=configs[node.id],
            when=_where(node.when, f"{spec.name}.{node.id}.when"),
            config_hash=node_hash,
        )
        for index, (node, node_hash) in enumerate(zip(spec.nodes, spec.node_hashes(), strict=True))
    )
    return CompiledWorkflow(spec=spec, nodes=nodes, where=_where(spec.where, f"{spec.name}.where"))


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
        compiled.append(compile_workflow(spec, configs))
    return compiled
