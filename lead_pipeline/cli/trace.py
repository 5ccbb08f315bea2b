"""``lead-pipeline trace``: why one row says what it says.

For each workflow and node, in order: the status and reason, when and in which run (with
the Dagster run id), the inputs the node reads and whether they are what it read, its
outputs and evidence, and every provider call its latest result made (provider,
endpoint, cache or live, HTTP status, latency, attempts, tokens, cost; for a question
asked in an LLM batch, the model, the batch id and the line's custom_id). ``--json`` prints
the same as one JSON object. Secrets are masked; nothing is called.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from lead_pipeline.cli.common import CliError, console, lead_name, open_store
from lead_pipeline.workflows.errors import WorkflowError


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "trace",
        help="one row's story: each node's result, inputs, evidence and provider calls",
        description="For one row: per workflow and node, the status and reason, when and in "
        "which run, the inputs read, the outputs and evidence, and every provider call "
        "made (cache or live, status, latency, attempts, tokens, cost).",
    )
    p.add_argument("--lead", required=True, type=lead_name, help="lead list name")
    p.add_argument("--row", required=True, help="the row's id (the _id column of an export)")
    p.add_argument("--workflow", help="only this workflow")
    p.add_argument("--json", action="store_true", help="print the trace as JSON")
    p.set_defaults(func=run)


def load(lead: str, row: str, workflow: str | None = None) -> dict[str, Any]:
    """The trace of ``row`` as a dict (what ``--json`` prints); :class:`CliError` for an
    unknown workflow or row. The MCP server's ``trace_row`` tool reads it here too."""
    # Imported when it runs: the loader costs 0.16 s and the trace (the store, the engine)
    # 1.2 s of CPU beyond what ``--help`` loads; registry() loads every node type (1.5 s).
    from lead_pipeline.engine.registry import registry
    from lead_pipeline.engine.trace import UnknownRow, row_trace
    from lead_pipeline.workflows.loader import load_workflows

    try:
        loaded = load_workflows(node_types=registry(), set_aside_broken=True)
        workflows = loaded.ordered()
        problem = loaded.warning()
    except WorkflowError as exc:  # the results are still there: trace them in store order
        workflows, problem = [], f"workflows did not load ({exc})"
    if problem:
        print(f"warning: {problem}", file=sys.stderr)
    if workflow and workflow not in {w.name for w in workflows}:
        known = ", ".join(w.name for w in workflows)
        raise CliError(f"--workflow: unknown workflow {workflow!r} (known: {known})")
    store = open_store()
    try:
        return row_trace(store, lead, row, workflows, only=workflow)
    except UnknownRow as exc:
        raise CliError(f"--row: {exc}") from None
    finally:
        store.dispose()


def run(args: argparse.Namespace) -> int:
    trace = load(args.lead, args.row, args.workflow)
    if args.json:
        print(json.dumps(trace, ensure_ascii=False, indent=2, default=str))
        return 0
    for line in render(trace):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    return 0


def _value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _call(call: dict[str, Any]) -> str:
    source = "cache" if call.get("cached") else "live"
    parts = [f"{call.get('provider')}", f"{call.get('endpoint') or '-'}", source]
    if call.get("model"):
        parts.append(f"model {call['model']}")
    batch = call.get("batch_id")
    if batch is not None or call.get("custom_id"):
        # Asked in an LLM batch (--lane batch): the batch and its line; the wait, not a latency.
        parts.append(f"batch {batch or '-'} line {call.get('custom_id') or '-'}")
    if not call.get("cached"):
        parts.append(f"HTTP {call.get('status') or '-'}")
        attempts = call.get("attempts") or 0
        parts.append(f"{attempts} attempt{'s' if attempts != 1 else ''}")
    if batch is not None and not call.get("cached"):
        parts.append(f"answered {call.get('latency_ms', 0) / 1000:.1f} s after submission")
    else:
        parts.append(f"{call.get('latency_ms', 0):.0f} ms")
    if call.get("input_tokens") is not None:
        parts.append(f"{call['input_tokens']}+{call.get('output_tokens') or 0} tokens")
    parts.append(f"${call.get('cost') or 0:.4f}")
    if call.get("error"):
        parts.append(f"error: {call['error']}")
    return "  ".join(parts)


def render(trace: dict[str, Any]) -> list[str]:
    name = f" ({trace['name']})" if trace.get("name") else ""
    lines = [f"row {trace['row_id']}{name} of lead list {trace['lead_list']}"]
    if not trace["workflows"]:
        lines.append("no workflow has a result for this row yet")
    for workflow in trace["workflows"]:
        lines.append("")
        lines.append(workflow["workflow"] + (" (retired)" if workflow["retired"] else ""))
        for index, node in enumerate(workflow["nodes"], start=1):
            kind = f" ({node['type']})" if node.get("type") else ""
            lines.append(f"  {index}. {node['node']}{kind}: {node['status']}")
            if node["status"] == "pending":
                lines.append("     no result yet")
                continue
            if node.get("reason"):
                lines.append(f"     reason   {node['reason']}")
            run = node.get("run")
            where = (
                f"run {run['id']} (Dagster run {run['dagster_run_id'] or '-'}, {run['status']})"
                if run
                else "outside any recorded run"
            )
            took = f"{node.get('duration_s') or 0:.2f} s"
            lines.append(
                f"     when     {node.get('finished_at')} UTC, {took}, "
                f"attempt {node.get('attempts')} (${node.get('cost') or 0:.4f} over all), {where}"
            )
            inputs = ", ".join(f"{k}={_value(v)}" for k, v in node["inputs"].items())
            hash_note = f"  hash {node['input_hash']}" if node.get("input_hash") else ""
            now = f" ({node['inputs_now']})" if node.get("inputs_now") else ""
            lines.append(f"     inputs   {inputs or '-'}{hash_note}{now}")
            outputs = ", ".join(f"{k}={_value(v)}" for k, v in (node.get("outputs") or {}).items())
            lines.append(f"     outputs  {outputs or '-'}")
            for field, found in (node.get("evidence") or {}).items():
                if found.get("status") == "ok":
                    lines.append(
                        f"     evidence {field}: {found.get('url')} "
                        f"{_value(found.get('quote'))} (fetched {found.get('fetched_at') or '?'})"
                    )
                elif found.get("status") == "unsupported":
                    lines.append(f"     evidence {field}: {found.get('reason')}")
            calls = node.get("calls") or []
            for number, call in enumerate(calls, start=1):
                label = "calls   " if number == 1 else "        "
                lines.append(f"     {label} {_call(call)}")
            if not calls:
                lines.append("     calls    none")
            if node.get("calls_not_kept"):
                lines.append(f"              and {node['calls_not_kept']} more, not kept")
    return lines
