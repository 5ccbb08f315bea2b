"""``lead-pipeline import``: read a lead file into a named list and register its partition."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.table import Table

from lead_pipeline.cli.common import CliError, console, lead_name, open_store
from lead_pipeline.leads import import_file
from lead_pipeline.settings import get_settings


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import",
        help="create or update a lead list from a CSV, TSV, JSON, JSONL or Parquet file",
        description="Import a lead file. Re-importing the same file changes nothing; changed "
        "fields update, new rows are added, enrichment results are kept.",
    )
    p.add_argument("path", type=Path, help="the lead file")
    p.add_argument("--lead", required=True, type=lead_name, help="lead list name")
    p.add_argument(
        "--id-column",
        help="column holding a stable id (default: the website domain, else the name)",
    )
    p.add_argument(
        "--prune", action="store_true", help="delete rows (and their results) not in the file"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dagster import DagsterError

    from lead_pipeline.defs.partitions import register_lead_list

    store = open_store()
    try:
        report = import_file(
            store, args.path, args.lead, id_column=args.id_column, prune=args.prune
        )
    finally:
        store.dispose()
    try:
        register_lead_list(args.lead)
    except DagsterError as exc:
        raise CliError(
            f"imported {report.total} rows into {args.lead!r}, but could not add it as a "
            f"partition of the Dagster instance at {get_settings().dagster_home}: {exc}"
        ) from None
    table = Table(title=f"imported {args.path} into lead list {args.lead!r}")
    for column in ("added", "updated", "unchanged", "pruned", "rows in file"):
        table.add_column(column, justify="right")
    table.add_row(
        str(report.added),
        str(report.updated),
        str(report.unchanged),
        str(report.pruned),
        str(report.total),
    )
    console.print(table)
    return 0
