"""The ``lead-pipeline`` command: parse, call the library, print.

Each subcommand is one ``add_<name>`` function that declares its arguments and
one ``cmd_<name>`` function that does the work; to add a subcommand, write both
and append the ``add_`` function to ``SUBCOMMANDS``. Commands return an exit
code. Errors a user can fix (a bad file, a bad name, an unknown list) raise one
of ``USER_ERRORS`` and print as one line on stderr with exit code 2, never as a
traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from lead_pipeline import __version__, settings
from lead_pipeline.leads import EXPORT_FORMATS, LeadFileError, export_list, import_file
from lead_pipeline.store import InvalidNameError, LeadStore, UnknownLeadListError, check_name

USER_ERROR_EXIT = 2


class CliError(Exception):
    """A problem the user can fix, raised by a command to print it as one line."""


USER_ERRORS: tuple[type[BaseException], ...] = (
    CliError,
    LeadFileError,
    InvalidNameError,
    UnknownLeadListError,
)

console = Console()


def open_store() -> LeadStore:
    """The store at ``LEAD_PIPELINE_DB_URL`` (or the SQLite file under ``data/``)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, OperationalError

    url = settings.db_url()
    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        raise CliError("LEAD_PIPELINE_DB_URL is not a valid SQLAlchemy URL") from None
    try:
        return LeadStore(url)
    except OperationalError as exc:
        reason = str(exc.orig or exc).strip().splitlines()[0]
        raise CliError(f"cannot open the lead store at {shown}: {reason}") from None


def lead_name(value: str) -> str:
    """argparse type: refuse a bad lead list name before anything else runs."""
    try:
        return check_name(value)
    except InvalidNameError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# ---- import ----------------------------------------------------------------


def add_import(sub: argparse._SubParsersAction) -> None:
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
    p.set_defaults(func=cmd_import)


def cmd_import(args: argparse.Namespace) -> int:
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
            f"partition of the Dagster instance at {settings.dagster_home()}: {exc}"
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


# ---- export ----------------------------------------------------------------


def add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write a lead list's wide view (base fields + outputs)")
    p.add_argument("--lead", required=True, type=lead_name, help="lead list name")
    p.add_argument("--format", required=True, choices=EXPORT_FORMATS, dest="fmt")
    p.add_argument("--out", type=Path, help="output file (default: data/exports/<lead>.<format>)")
    p.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
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


# ---- status ----------------------------------------------------------------


def add_status(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="row count and per-workflow progress of a lead list")
    p.add_argument("--lead", required=True, type=lead_name, help="lead list name")
    p.set_defaults(func=cmd_status)


def cmd_status(args: argparse.Namespace) -> int:
    store = open_store()
    try:
        status = store.status(args.lead)
    finally:
        store.dispose()
    console.print(f"lead list [bold]{status.lead_list}[/bold]: {status.rows} rows")
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


# ---- lists -----------------------------------------------------------------


def add_lists(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lists", help="every lead list in the store")
    p.set_defaults(func=cmd_lists)


def cmd_lists(args: argparse.Namespace) -> int:
    store = open_store()
    try:
        infos = store.lists()
    finally:
        store.dispose()
    if not infos:
        console.print("no lead lists yet; create one with: lead-pipeline import PATH --lead NAME")
        return 0
    table = Table(title="lead lists")
    table.add_column("name")
    table.add_column("rows", justify="right")
    table.add_column("updated (UTC)")
    table.add_column("source", overflow="fold")
    for info in infos:
        table.add_row(
            info.name,
            str(info.rows),
            info.updated_at.strftime("%Y-%m-%d %H:%M:%S"),
            info.source or "",
        )
    console.print(table)
    return 0


# ---- wiring ----------------------------------------------------------------

SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    add_import,
    add_export,
    add_status,
    add_lists,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lead-pipeline", description="Lead-list enrichment with Dagster."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def _scrub(text: str) -> str:
    for value in settings.known_secrets():
        text = text.replace(value, "***")
    return text


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except USER_ERRORS as exc:
        message = " ".join(_scrub(str(exc)).split())
        print(f"error: {message}", file=sys.stderr)
        return USER_ERROR_EXIT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
