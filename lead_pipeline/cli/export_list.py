"""``lead-pipeline export``: write a lead list's wide view to a file."""

from __future__ import annotations

import argparse
from pathlib import Path

from lead_pipeline.cli.common import CliError, console, lead_name, open_store
from lead_pipeline.leads import EXPORT_FORMATS, export_list


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write a lead list's wide view (base fields + outputs)")
    p.add_argument("--lead", required=True, type=lead_name, help="lead list name")
    p.add_argument("--format", required=True, choices=EXPORT_FORMATS, dest="fmt")
    p.add_argument("--out", type=Path, help="output file (default: data/exports/<lead>.<format>)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    store = open_store()
    try:
        written = export_list(store, args.lead, args.fmt, args.out)
        rows = store.row_count(args.lead)
    except OSError as exc:
        raise CliError(f"cannot write {exc.filename or args.out}: {exc.strerror or exc}") from None
    finally:
        store.dispose()
    console.print(f"wrote {rows} rows of {args.lead!r} to {written}")
    return 0
