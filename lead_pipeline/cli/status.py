"""``lead-pipeline status``: a lead list's row count and per-workflow progress."""

from __future__ import annotations

import argparse

from rich.table import Table

from lead_pipeline.cli.common import console, lead_name, open_store
from lead_pipeline.cli.lists import describe_fields


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="row count and per-workflow progress of a lead list")
    p.add_argument("--lead", required=True, type=lead_name, help="lead list name")
    p.set_defaults(func=run)


def _workflow_nodes() -> dict[str, list[str]] | None:
    """Each workflow's node ids, so a row that stopped mid-workflow counts as pending.

    Status must work even when a user's workflow file is broken: then it falls
    back to the nodes seen in the results.
    """
    from lead_pipeline.engine.compile import load_compiled
    from lead_pipeline.workflows import WorkflowError

    try:
        return {w.name: [n.id for n in w.nodes] for w in load_compiled()}
    except WorkflowError as exc:
        console.print(f"[yellow]warning[/]: workflows did not load ({exc}); counts are approximate")
        return None


def run(args: argparse.Namespace) -> int:
    store = open_store()
    try:
        status = store.status(args.lead, _workflow_nodes())
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
    for column in ("ok", "failed", "pending", "skipped", "cost"):
        table.add_column(column, justify="right")
    for wf in status.workflows:
        table.add_row(
            wf.workflow,
            str(wf.ok),
            str(wf.failed),
            str(wf.pending),
            str(wf.skipped),
            f"{wf.cost:.4f}",
        )
    console.print(table)
    return 0
