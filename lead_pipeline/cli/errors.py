"""``lead-pipeline errors``: the failed rows of a lead list, by cause or one per line.

The closing output of ``enrich`` shows a run's failures grouped by cause; this
is the one command away that lists every failed row with its node, error,
attempts, cost and time, so a user can fix the inputs or retry with
``enrich --retry-failed``.
"""

from __future__ import annotations

import argparse

from rich.table import Table

from lead_pipeline.cli.common import CliError, console, lead_name, open_store
from lead_pipeline.engine.summary import describe_failures, group_failures


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "errors",
        help="list a lead list's failed rows: node, error, attempts, cost and when",
        description="Every row whose last attempt at a node failed, newest first. "
        "--by-cause groups them (ids and numbers folded) with a count and a few rows each.",
    )
    p.add_argument("--lead", required=True, type=lead_name, help="lead list name")
    p.add_argument("--workflow", help="only this workflow's failures")
    p.add_argument("--by-cause", action="store_true", help="group the rows by cause")
    p.add_argument(
        "--limit", type=int, default=200, help="rows shown (default 200; 0 for every row)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.limit < 0:
        raise CliError(f"--limit: must be 0 or more, got {args.limit}")
    store = open_store()
    try:
        failures = store.failures(args.lead, args.workflow)
    finally:
        store.dispose()
    scope = f"{args.workflow} on {args.lead}" if args.workflow else args.lead
    if not failures:
        console.print(f"no failed rows in {scope}", highlight=False)
        return 0
    console.print(f"{len(failures)} failed row result(s) in {scope}", highlight=False)
    if args.by_cause:
        causes, other_causes, other_rows = group_failures(failures, limit=args.limit or 10**9)
        console.print(describe_failures(causes, other_causes, other_rows), markup=False)
        return 0
    table = Table()
    columns = ("row", "name", "workflow", "node", "error", "attempts", "cost", "when (UTC)")
    for column in columns:
        table.add_column(column, overflow="fold")
    shown = failures if args.limit == 0 else failures[: args.limit]
    for f in shown:
        when = f.finished_at.strftime("%Y-%m-%d %H:%M:%S") if f.finished_at else ""
        cost = f"${f.cost:.4f}"  # paid calls of a failed node are money spent all the same
        table.add_row(
            f.row_id, f.name or "", f.workflow, f.node, f.error, str(f.attempts), cost, when
        )
    console.print(table)
    if len(shown) < len(failures):
        console.print(f"... and {len(failures) - len(shown)} more (--limit 0 shows every row)")
    console.print(
        f"retry them with: lead-pipeline enrich --lead {args.lead} --retry-failed"
        + (f" --workflow {args.workflow}" if args.workflow else ""),
        highlight=False,
    )
    return 0
