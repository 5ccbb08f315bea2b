"""One row's story: for each workflow and node, what it decided, when, in which run, from
which inputs, with which evidence, and every provider call it made.

Read from the store alone (no provider is called): the node results with the calls each
recorded (``providers/calls.py``), the run that was going when each result was written,
and the row's values now, through each node's own input view, so the inputs shown are
exactly the columns the node reads. Their hash is compared with the one stored with the
result: "as when it ran", or "changed since" (the next run redoes the node).

Every text is scrubbed of secrets, as everywhere else; long values are shortened.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from lead_pipeline.engine.compile import CompiledNode, CompiledWorkflow
from lead_pipeline.providers import scrub
from lead_pipeline.store import LeadStore, NodeResult
from lead_pipeline.workflows.inputs import MISSING_INPUT_NOTE, WHEN_FALSE_NOTE

MAX_VALUE_CHARS = 160


class UnknownRow(LookupError):
    """The list has no row with that id."""


def shorten(value: Any, limit: int = MAX_VALUE_CHARS) -> Any:
    """A value as the trace shows it: text and structures past ``limit`` characters cut."""
    if value is None or isinstance(value, bool | int | float):
        return value
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    if len(text) <= limit:
        return value
    return text[: limit - 1] + "…"


def _scrubbed(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {scrub(str(k)): _scrubbed(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrubbed(v) for v in value]
    return value


def _when(moment: datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")


def _inputs(
    node: CompiledNode | None,
    result: NodeResult | None,
    values: dict[str, Any],
    params: dict[str, Any],
) -> tuple[dict[str, Any], str | None]:
    """What the node reads of the row now, and whether it is what it read when it ran."""
    if node is None:
        return {}, None
    view = node.inputs.view(values)
    view.pop("_id", None)
    shown = {column: shorten(value) for column, value in view.items()}
    if result is None or result.input_hash is None:
        return shown, None
    note = result.error or ""
    if note.startswith(WHEN_FALSE_NOTE):
        now = node.inputs.when_hash(values, params)
    elif note.startswith(MISSING_INPUT_NOTE) or result.status != "skipped":
        now = node.inputs.body_hash(values, params)
    else:
        return shown, None
    return shown, "as when it ran" if now == result.input_hash else "changed since it ran"


def row_trace(
    store: LeadStore,
    lead_list: str,
    row_id: str,
    workflows: Sequence[CompiledWorkflow],
    *,
    only: str | None = None,
) -> dict[str, Any]:
    """The trace of ``row_id``: workflows in chain order (then any retired one), nodes in
    order, each with its result, run, inputs, outputs, evidence and calls."""
    store.require_list(lead_list)
    rows = store.row_values(lead_list, [row_id])
    if row_id not in rows:
        raise UnknownRow(f"lead list {lead_list!r} has no row {row_id!r}")
    values = rows[row_id]
    results: dict[tuple[str, str], NodeResult] = {
        (r.workflow, r.node): r for r in store.row_results(lead_list, row_id)
    }
    by_name = {w.name: w for w in workflows}
    order = [w.name for w in workflows]
    order += sorted({wf for wf, _ in results} - set(order))
    traced: list[dict[str, Any]] = []
    for name in order:
        if only is not None and name != only:
            continue
        workflow = by_name.get(name)
        nodes: list[tuple[str, CompiledNode | None]] = (
            [(n.id, n) for n in workflow.nodes] if workflow is not None else []
        )
        known = {node_id for node_id, _ in nodes}
        nodes += [(node_id, None) for wf, node_id in results if wf == name and node_id not in known]
        params = workflow.params() if workflow is not None else {}
        entries = []
        for node_id, node in nodes:
            result = results.get((name, node_id))
            entries.append(_node(store, lead_list, name, node_id, node, result, values, params))
        if any(e["status"] != "pending" for e in entries) or only == name:
            traced.append({"workflow": name, "retired": workflow is None, "nodes": entries})
    name_field = values.get("name")
    trace = {
        "lead_list": lead_list,
        "row_id": row_id,
        "name": name_field if isinstance(name_field, str) else None,
        "workflows": traced,
    }
    return _scrubbed(trace)


def _node(
    store: LeadStore,
    lead_list: str,
    workflow: str,
    node_id: str,
    node: CompiledNode | None,
    result: NodeResult | None,
    values: dict[str, Any],
    params: dict[str, Any],
) -> dict[str, Any]:
    inputs, same = _inputs(node, result, values, params)
    entry: dict[str, Any] = {
        "node": node_id,
        "type": node.spec.type if node is not None else None,
        "status": "pending" if result is None else result.status,
        "inputs": inputs,
    }
    if result is None:
        return entry
    run = (
        store.run_covering(lead_list, workflow, result.finished_at)
        if result.finished_at is not None
        else None
    )
    entry.update(
        {
            "reason": result.error,
            "started_at": _when(result.started_at),
            "finished_at": _when(result.finished_at),
            "duration_s": None if result.duration_s is None else round(result.duration_s, 3),
            "attempts": result.attempts,
            "cost": result.cost,
            "provider": result.provider,
            "run": None if run is None else {k: run[k] for k in ("id", "dagster_run_id", "status")},
            "input_hash": result.input_hash,
            "inputs_now": same,
            "outputs": {k: shorten(v) for k, v in (result.outputs or {}).items()},
            "evidence": result.evidence,
            "unsupported": result.unsupported,
            "calls": [c for c in result.calls or [] if "dropped" not in c],
            "calls_not_kept": sum(c.get("dropped", 0) for c in result.calls or []),
        }
    )
    return entry
