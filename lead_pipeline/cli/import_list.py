"""``lead-pipeline import``: read a lead file into a named list and register its partition."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.table import Table

from lead_pipeline.cli.common import CliError, console, lead_name, open_store
from lead_pipeline.leads.fields import CANONICAL_FIELDS, FieldMapping, FieldMappingError
from lead_pipeline.leads.fields import parse_map_option as _parse_map
from lead_pipeline.leads.ids import DUPLICATE_RULES
from lead_pipeline.leads.readers import DELIMITERS, parse_delimiter


def delimiter_option(value: str) -> str:
    """argparse type for ``--delimiter``: the character or its name."""
    try:
        return parse_delimiter(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def map_option(value: str) -> tuple[str, str | None]:
    """argparse type for ``--map FIELD=COLUMN``."""
    try:
        return _parse_map(value)
    except FieldMappingError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


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
        "--map",
        action="append",
        type=map_option,
        default=[],
        metavar="FIELD=COLUMN",
        dest="field_map",
        help="read lead field FIELD from column COLUMN, overriding the guess (repeatable; "
        f"fields: {', '.join(CANONICAL_FIELDS)}; FIELD= maps it to nothing). Kept for "
        "later imports of the same list",
    )
    p.add_argument(
        "--delimiter",
        type=delimiter_option,
        help="CSV delimiter: "
        + ", ".join(f"{name} ({char!r})" for char, name in DELIMITERS.items())
        + " (default: detected)",
    )
    p.add_argument(
        "--on-duplicate",
        choices=DUPLICATE_RULES,
        default="error",
        help="rows with one id but different values: refuse the file (default), or keep "
        "the first or the last of them. Exact copies are always collapsed",
    )
    p.add_argument(
        "--prune", action="store_true", help="delete rows (and their results) not in the file"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dagster import DagsterError

    from lead_pipeline.defs.partitions import register_lead_list
    from lead_pipeline.leads.importer import describe_id_rule, import_file
    from lead_pipeline.settings import get_settings

    store = open_store()
    try:
        report = import_file(
            store,
            args.path,
            args.lead,
            id_column=args.id_column,
            prune=args.prune,
            delimiter=args.delimiter,
            field_map=dict(args.field_map),
            on_duplicate=args.on_duplicate,
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
    table = Table(title=f"imported {report.source or args.path} into lead list {args.lead!r}")
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
    console.print(f"fields: {FieldMapping.from_json(report.field_map).describe()}", soft_wrap=True)
    console.print(f"ids: {describe_id_rule(report.id_rule)}", soft_wrap=True)
    for note in report.notes:
        console.print(f"note: {note}", soft_wrap=True)
    return 0
