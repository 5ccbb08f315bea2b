"""``lead-pipeline status``: a lead list's row count and per-workflow progress.

``stale`` counts finished rows the next run will redo, and ``why stale`` says
what made them stale: the workflow's configuration changed, the inputs a node
read changed (a re-import, an upstream answer, a parameter default), or a
result is older than its node's ``max_age``.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from rich.table import Table

from lead_pipeline.cli.common import console, lead_name, open_store
from lead_pipeline.cli.lists import describe_fields
from lead_pipeline.workflows.errors import WorkflowError

if TYPE_CHECKING:
    from lead_pipeline.engine.compile import CompiledWorkflow
    from lead_pipeline.store import LeadStore


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="row count and per-workflow progress of a lead list")
    p.add_argument("--lead", required=True, type=lead_name, help="lead list name")
    p.set_defaults(func=run)


def _workflows() -> list[CompiledWorkflow] | None:
    """The workflows, so a row that stopped mid-workflow counts as pending.

    Status must work even when a user's workflow file is broken: that file is
    left out with a warning naming it, and the others count exactly.
    """
    # Imported when it runs: the loader costs 0.16 s of CPU beyond what ``--help`` loads,
    # and registry() loads every node type (1.5 s).
    from lead_pipeline.engine.registry import registry
    from lead_pipeline.workflows.loader import load_workflows

    try:
        loaded = load_workflows(node_types=registry(), set_aside_broken=True)
    except WorkflowError as exc:
        console.print(f"[yellow]warning[/]: workflows did not load ({exc}); counts are approximate")
        return None
    if loaded.broken:
        console.print(f"[yellow]warning[/]: {loaded.warning()}", highlight=False)
    return loaded.ordered()


def _stale(store: LeadStore, workflow: CompiledWorkflow, lead: str) -> tuple[int, str]:
    # Imported when it runs: the selection costs 1.2 s of CPU beyond what ``--help`` loads.
    from lead_pipeline.engine.selection import STALE_REASONS, stale_counts

    counts = stale_counts(store, workflow, lead)
    found = {reason: counts[reason] for reason in STALE_REASONS if counts[reason]}
    return sum(found.values()), ", ".join(f"{reason} {n}" for reason, n in found.items())


def run(args: argparse.Namespace) -> int:
    store = open_store()
    workflows = _workflows()
    nodes = {w.name: [n.id for n in w.nodes] for w in workflows} if workflows is not None else None
    try:
        status = store.status(args.lead, nodes)
        # A workflow that never ran on the list has no stale rows: only new ones.
        ran = {wf.workflow for wf in status.workflows if wf.ok or wf.failed or wf.skipped}
        stale = {w.name: _stale(store, w, args.lead) for w in workflows or () if w.name in ran}
        fields = describe_fields(store.list_info(args.lead))
    finally:
        store.dispose()
    console.print(f"lead list [bold]{status.lead_list}[/bold]: {status.rows} rows")
    console.print(f"fields: {fields}", soft_wrap=True)
    if not status.workflows:
        console.print("no workflow has run on it yet")
        return 0
    table = Table(title="workflows")
    table.add_column("workflow")
    columns = ["ok", "failed", "pending", "skipped", "stale", "cost"]
    # Research answers refused for lack of evidence, shown once a workflow has any.
    unsupported = any(wf.unsupported for wf in status.workflows)
    if unsupported:
        columns.insert(4, "unsupported")
    # Rows whose llm question is in an LLM batch (--lane batch), once a workflow has any.
    waiting = any(wf.waiting for wf in status.workflows)
    if waiting:
        columns.insert(3, "waiting")
    for column in columns:
        table.add_column(column, justify="right")
    table.add_column("why stale")
    retired = []
    for wf in status.workflows:
        # Results of a workflow no file defines any more: kept, but nothing is pending.
        gone = nodes is not None and wf.workflow not in nodes
        if gone:
            retired.append(wf.workflow)
        table.add_row(
            wf.workflow + (" (retired)" if gone else ""),
            str(wf.ok),
            str(wf.failed),
            "-" if gone else str(wf.pending),
            *([str(wf.waiting)] if waiting else []),
            str(wf.skipped),
            *([str(wf.unsupported)] if unsupported else []),
            str(stale.get(wf.workflow, (0, ""))[0]),
            f"{wf.cost:.4f}",
            stale.get(wf.workflow, (0, ""))[1] or "-",
        )
    console.print(table)
    if waiting:
        console.print(
            f"waiting: rows whose LLM question is in a batch; see them with: lead-pipeline "
            f"batches --lead {status.lead_list}",
            highlight=False,
        )
    if retired:
        console.print(
            f"retired: {', '.join(retired)} (no workflow file defines it now, or its file "
            "did not load); its results stay in the store and in exports",
            highlight=False,
        )
    return 0
