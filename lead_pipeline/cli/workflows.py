"""``lead-pipeline workflows``: every workflow with its nodes, needs and outputs."""

from __future__ import annotations

import argparse

from lead_pipeline.cli.common import console


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("workflows", help="list the workflows with their nodes, needs and outputs")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lead_pipeline.engine.compile import load_compiled

    for workflow in load_compiled():
        spec = workflow.spec
        console.print(f"[bold]{spec.name}[/]  ({spec.source or 'built-in'})")
        if spec.description:
            console.print(f"  {' '.join(spec.description.split())}")
        console.print(
            f"  needs: {', '.join(spec.needs) or '-'}    where: {spec.where or 'every row'}"
        )
        if spec.params:
            console.print(f"  params: {', '.join(f'{k}={v}' for k, v in spec.params.items())}")
        for node in workflow.nodes:
            when = f"  when {node.spec.when}" if node.spec.when else ""
            outputs = ", ".join(node.spec.outputs) or "-"
            console.print(f"    {node.index + 1}. {node.id} ({node.spec.type}) -> {outputs}{when}")
    return 0
