"""``lead-pipeline import``: read a lead file, or HubSpot companies, into a named list and
register its partition.

``import hubspot`` reads HubSpot (``crm/hubspot_source.py``) with the same ``--map`` and the
same report; a file that happens to be called ``hubspot`` is imported as ``./hubspot``.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from rich.table import Table

from lead_pipeline.cli.common import CliError, console, describe_source, lead_name, open_store
from lead_pipeline.leads.fields import CANONICAL_FIELDS, FieldMapping, FieldMappingError
from lead_pipeline.leads.fields import parse_map_option as _parse_map
from lead_pipeline.leads.ids import DUPLICATE_RULES
from lead_pipeline.leads.readers import DELIMITERS, parse_delimiter
from lead_pipeline.settings import get_settings

if TYPE_CHECKING:
    from lead_pipeline.store import ImportReport

HUBSPOT_SOURCE = "hubspot"


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
        help="create or update a lead list from a CSV, TSV, JSON, JSONL or Parquet file, "
        "or from HubSpot",
        description="Import a lead file, or HubSpot's companies (`import hubspot`: a list, "
        "filters, or every company). Re-importing the same source changes nothing; changed "
        "fields update, new rows are added, enrichment results are kept.",
    )
    p.add_argument("path", help=f"the lead file, or {HUBSPOT_SOURCE!r} to read HubSpot")
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
    p.add_argument(
        "--hubspot-list",
        metavar="LIST_ID",
        help="import hubspot: the companies of this HubSpot list (its id, from the list's URL)",
    )
    p.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="PROPERTY=VALUE",
        dest="filters",
        help="import hubspot: only companies matching it (repeatable, all must match; also "
        "!=, >, >=, <, <=; PROPERTY=* for any value), e.g. lifecyclestage=lead",
    )
    p.add_argument(
        "--property",
        action="append",
        default=[],
        metavar="NAME",
        dest="properties",
        help="import hubspot: another company property to keep as a column (repeatable)",
    )
    p.set_defaults(func=run)


def _from_hubspot(args: argparse.Namespace) -> ImportReport:
    # Imported when it runs: the HubSpot source costs 1.3 s of CPU beyond what ``--help`` loads.
    from lead_pipeline.crm.hubspot_source import CompanySelection, import_hubspot

    given = [f for f, v in (("--id-column", args.id_column), ("--delimiter", args.delimiter)) if v]
    if args.on_duplicate != "error":
        given.append("--on-duplicate")
    if given:
        raise CliError(f"{', '.join(given)}: only for files; HubSpot rows are keyed by their id")
    try:
        selection = CompanySelection(
            list_id=args.hubspot_list,
            filters=tuple(args.filters),
            properties=tuple(args.properties),
        )
    except ValueError as exc:
        raise CliError(str(exc)) from None
    store = open_store()
    try:
        return asyncio.run(
            import_hubspot(
                store,
                args.lead,
                selection,
                field_map=dict(args.field_map),
                prune=args.prune,
            )
        )
    finally:
        store.dispose()


def _from_file(args: argparse.Namespace) -> ImportReport:
    # Imported when it runs: the importer (the store, SQLAlchemy) costs 1.2 s of CPU
    # beyond what ``--help`` loads.
    from lead_pipeline.leads.importer import import_file

    used = [
        f
        for f, v in (
            ("--hubspot-list", args.hubspot_list),
            ("--filter", args.filters),
            ("--property", args.properties),
        )
        if v
    ]
    if used:
        raise CliError(f"{', '.join(used)}: only for `lead-pipeline import {HUBSPOT_SOURCE}`")
    store = open_store()
    try:
        return import_file(
            store,
            Path(args.path),
            args.lead,
            id_column=args.id_column,
            prune=args.prune,
            delimiter=args.delimiter,
            field_map=dict(args.field_map),
            on_duplicate=args.on_duplicate,
        )
    finally:
        store.dispose()


def run(args: argparse.Namespace) -> int:
    # Imported when it runs: Dagster and the partitions cost 2.4 s, the importer 1.2 s of
    # CPU beyond what ``--help`` loads.
    from dagster import DagsterError

    from lead_pipeline.defs.partitions import register_lead_list
    from lead_pipeline.leads.importer import describe_id_rule

    hubspot = args.path == HUBSPOT_SOURCE
    report = _from_hubspot(args) if hubspot else _from_file(args)
    try:
        register_lead_list(args.lead)
    except DagsterError as exc:
        raise CliError(
            f"imported {report.total} rows into {args.lead!r}, but could not add it as a "
            f"partition of the Dagster instance at {get_settings().dagster_home}: {exc}"
        ) from None
    source = describe_source(report.source) or args.path
    table = Table(title=f"imported {source} into lead list {args.lead!r}")
    for column in (
        "added",
        "updated",
        "unchanged",
        "pruned",
        "rows in HubSpot" if hubspot else "rows in file",
    ):
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
