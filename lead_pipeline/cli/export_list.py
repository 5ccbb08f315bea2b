"""``lead-pipeline export``: write a lead list's wide view to a file."""

from __future__ import annotations

import argparse
from pathlib import Path

from lead_pipeline.cli.common import CliError, console, lead_name, open_store
from lead_pipeline.leads.exporter import (
    DEFAULT_FLATTEN_MAX,
    EXPORT_FORMATS,
    ExportError,
    ExportOptions,
    export_lead_list,
)


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of at least 1")
    return number


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write a lead list's wide view (base fields + outputs)")
    p.add_argument("--lead", required=True, type=lead_name, help="lead list name")
    p.add_argument("--format", required=True, choices=EXPORT_FORMATS, dest="fmt")
    p.add_argument("--out", type=Path, help="output file (default: data/exports/<lead>.<format>)")
    p.add_argument(
        "--all-outputs",
        action="store_true",
        help="also write outputs declared preview: false (raw search results)",
    )
    p.add_argument(
        "--flatten",
        action="store_true",
        help="write arrays of objects as numbered columns: founders -> founder_1_name, "
        "founder_1_title, founder_1_linkedin_url, ...",
    )
    p.add_argument(
        "--flatten-max",
        type=_positive,
        default=DEFAULT_FLATTEN_MAX,
        metavar="N",
        help=f"items per array that --flatten writes (default {DEFAULT_FLATTEN_MAX})",
    )
    p.add_argument(
        "--explode",
        metavar="COLUMN",
        help="one row per item of an array column (e.g. founders) with the company's id, "
        "name and website: what a CRM's contact import wants",
    )
    p.add_argument(
        "--excel", action="store_true", help="CSV as UTF-8 with a byte-order mark, for Excel"
    )
    p.add_argument(
        "--errors", action="store_true", help="add an _errors column: why a row's nodes failed"
    )
    p.add_argument(
        "--evidence",
        action="store_true",
        help="research answers' sources: <field>_source and <field>_quote columns (CSV), "
        "an _evidence object (JSONL, Parquet)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    options = ExportOptions(
        all_outputs=args.all_outputs,
        flatten=args.flatten,
        flatten_max=args.flatten_max,
        explode=args.explode,
        excel=args.excel,
        errors=args.errors,
        evidence=args.evidence,
    )
    store = open_store()
    try:
        result = export_lead_list(store, args.lead, args.fmt, args.out, options)
    except ExportError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"cannot write {exc.filename or args.out}: {exc.strerror or exc}") from None
    finally:
        store.dispose()
    console.print(f"wrote {result.rows} rows of {args.lead!r} to {result.path}", soft_wrap=True)
    for note in result.notes:
        console.print(f"note: {note}", soft_wrap=True)
    return 0
