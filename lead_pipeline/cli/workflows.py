"""``lead-pipeline workflows``: every workflow with its nodes, inputs, needs and outputs.

A node's inputs are what it reads (derived when the workflows load): a change
to any of them in a row makes that row's result stale. Columns marked
``(from the list)`` are ones no lead field or workflow provides: a lead list
must have them, which each run checks before any row runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import Any

from rich.markup import escape

from lead_pipeline.cli.common import USER_ERROR_EXIT, console
from lead_pipeline.durations import show_duration
from lead_pipeline.workflows.inputs import NodeInputs


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("workflows", help="list the workflows with their nodes, needs and outputs")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Every workflow that loads, then each file that does not, named with its problem; a
    broken file blocks only itself here too, but the exit status (2) still says so."""
    # Imported when it runs: the loader costs 0.16 s of CPU beyond what ``--help`` loads,
    # and registry() loads every node type (1.5 s).
    from lead_pipeline.engine.registry import registry
    from lead_pipeline.workflows.loader import load_workflows

    loaded = load_workflows(node_types=registry(), set_aside_broken=True)
    for workflow in loaded:
        spec = workflow.spec
        console.print(f"[bold]{spec.name}[/]  ({spec.source or 'built-in'})")
        if spec.description:
            console.print(f"  {' '.join(spec.description.split())}")
        console.print(
            f"  needs: {', '.join(spec.needs) or '-'}    where: {spec.where or 'every row'}"
        )
        if spec.params:
            params = ", ".join(f"{k}={p.default} ({p.type})" for k, p in spec.params.items())
            console.print(f"  params: {params}")
        for node in workflow.nodes:
            when = f"  when {node.spec.when}" if node.spec.when else ""
            outputs = ", ".join(node.spec.outputs) or "-"
            console.print(f"    {node.index + 1}. {node.id} ({node.spec.type}) -> {outputs}{when}")
            console.print(f"       reads: {_inputs(workflow.list_columns, node.inputs)}")
            extras = []
            if node.spec.requires:
                extras.append(
                    "requires: " + ", ".join(" or ".join(a) for a in node.spec.requirements())
                )
            if node.spec.max_age is not None:
                extras.append(f"max_age: {show_duration(node.spec.max_age)}")
            if extras:
                console.print(f"       {'    '.join(extras)}")
    for problem in loaded.broken:  # after the list, on stderr, as every error is
        print(f"error: not loaded: {' '.join(problem.split())}", file=sys.stderr)
    return USER_ERROR_EXIT if loaded.broken else 0


def _inputs(from_list: Mapping[str, Any], inputs: NodeInputs) -> str:
    if inputs.whole_row:
        return "the whole row"
    names = [f"{c} (from the list)" if c in from_list else c for c in sorted(inputs.columns)]
    names += [f"when: {c}" for c in sorted(inputs.when_columns - set(inputs.columns))]
    if inputs.all_params:
        names.append("every parameter")
    else:
        names += [f"params.{p}" for p in sorted(inputs.params | inputs.when_params)]
    return escape(", ".join(names)) or "-"
