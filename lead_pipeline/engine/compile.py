"""A loaded workflow as the engine sees it: nodes that carry the registry's node types.

There is one workflow representation, built by the one loader
(:func:`lead_pipeline.workflows.loader.load_workflows`): the engine passes its
node types (``load_workflows(node_types=registry())``), so each node's
configuration is validated against its type's model when the definitions load
and a bad one fails once, with file, node and field, instead of on every row.
These names are that representation with the engine's ``NodeType`` filled in.
"""

from __future__ import annotations

from typing import TypeAlias

from lead_pipeline.engine.registry import NodeType
from lead_pipeline.workflows.compiled import Node, Workflow

CompiledNode: TypeAlias = Node[NodeType]
CompiledWorkflow: TypeAlias = Workflow[NodeType]
