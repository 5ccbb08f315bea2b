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
from lead_pipeline.engine.compile import WorkflowConfigError
from lead_pipeline.leads import EXPORT_FORMATS, LeadFileError, export_list, import_file
from lead_pipeline.providers import NotConfigured, scrub
from lead_pipeline.store import InvalidNameError, LeadStore, UnknownLeadListError, check_name
from lead_pipeline.workflows import WorkflowError

USER_ERROR_EXIT = 2


class CliError(Exception):
    """A problem the user can fix, raised by a command to print it as one line."""


USER_ERRORS: tuple[type[BaseException], ...] = (
    CliError,
    LeadFileError,
    InvalidNameError,
    UnknownLeadListError,
    NotConfigured,
    WorkflowConfigError,
    WorkflowError,
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


def _workflow_nodes() -> dict[str, list[str]] | None:
    """Each workflow's node ids, so a row that stopped mid-workflow counts as pending.

    Status must work even when a user's workflow file is broken: then it falls
    back to the nodes seen in the results.
    """
    from lead_pipeline.defs.definitions import compiled_workflows
    from lead_pipeline.workflows import WorkflowError

    try:
        return {w.name: [n.id for n in w.nodes] for w in compiled_workflows()}
    except WorkflowError as exc:
        console.print(f"[yellow]warning[/]: workflows did not load ({exc}); counts are approximate")
        return None


def cmd_status(args: argparse.Namespace) -> int:
    store = open_store()
    try:
        status = store.status(args.lead, _workflow_nodes())
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


# ---- enrich ----------------------------------------------------------------


def _param(value: str) -> tuple[str, str]:
    key, sep, raw = value.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {value!r}")
    return key.strip(), raw.strip()


def add_enrich(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "enrich",
        help="run a workflow (or the whole chain) over a lead list through Dagster",
        description="Materialize workflow assets for one lead list on the same code path as "
        "the Dagster UI; the run shows in the UI. Only rows that are missing, failed or stale "
        "are processed unless --force is given.",
    )
    p.add_argument("--lead", required=True, type=lead_name, help="lead list name")
    p.add_argument("--workflow", default="all", help="a workflow name, or 'all' (the chain)")
    p.add_argument("--parallel", type=int, default=None, help="rows in flight (default 5)")
    p.add_argument("--force", action="store_true", help="re-run every eligible row")
    p.add_argument(
        "--retry-failed", action="store_true", help="process only rows whose last attempt failed"
    )
    p.add_argument("--limit", type=int, help="process at most N rows (a dry run before paying)")
    p.add_argument("--max-cost", type=float, help="stop starting rows once this many USD are spent")
    p.add_argument("--shard-size", type=int, help="rows per Dagster step (default 1000)")
    p.add_argument("--max-shards", type=int, help="Dagster steps per workflow (default 2)")
    p.add_argument(
        "--param",
        type=_param,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a workflow parameter, e.g. llm_threshold=0.9 (repeatable)",
    )
    p.set_defaults(func=cmd_enrich)


def _options(args: argparse.Namespace) -> dict:
    """The run options, validated by the same model the Dagster launchpad uses."""
    from pydantic import ValidationError

    from lead_pipeline.defs.resources import EnrichOptions

    options = {
        "parallel": args.parallel,
        "force": args.force,
        "retry_failed": args.retry_failed,
        "limit": args.limit,
        "max_cost": args.max_cost,
        "shard_size": args.shard_size,
        "max_shards": args.max_shards,
        "params": dict(args.param) or None,
    }
    try:
        EnrichOptions(**{k: v for k, v in options.items() if v is not None})
    except ValidationError as exc:
        error = exc.errors()[0]
        flag = "--" + str(error["loc"][0]).replace("_", "-")
        raise CliError(f"{flag}: {error['msg']}, got {error.get('input')!r}") from None
    return options


def cmd_enrich(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from lead_pipeline.defs.launch import enrich
    from lead_pipeline.store import ListStatus

    options = _options(args)
    store = open_store()
    store.require_list(args.lead)
    total = store.row_count(args.lead)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} rows"),
        TextColumn("[green]{task.fields[ok]} ok[/] [red]{task.fields[failed]} failed[/]"),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )
    tasks: dict[str, int] = {}
    started: dict[str, tuple[float, int]] = {}

    def show(status: ListStatus) -> None:
        import time

        for wf in status.workflows:
            done = wf.ok + wf.failed + wf.skipped
            if wf.workflow not in tasks:
                tasks[wf.workflow] = progress.add_task(
                    wf.workflow, total=total, ok=0, failed=0, rate=""
                )
                started[wf.workflow] = (time.monotonic(), done)
            t0, done0 = started[wf.workflow]
            elapsed = max(time.monotonic() - t0, 1e-6)
            rate = f"{60 * (done - done0) / elapsed:.0f} rows/min" if done > done0 else ""
            progress.update(
                tasks[wf.workflow], completed=done, ok=wf.ok, failed=wf.failed, rate=rate
            )

    step_log = settings.data_dir() / "logs" / f"enrich-{args.lead}.log"
    with progress:
        result = enrich(
            args.lead, args.workflow, options, store=store, on_progress=show, step_log=step_log
        )
    store.dispose()
    for name, reason in result.skipped.items():
        console.print(f"[yellow]skipped {name}[/]: {reason}")
    for run in result.runs:
        console.print(run["message"] or f"{run['workflow']}: {run['status']}")
    if result.dagster_run_id:
        console.print(f"Dagster run {result.dagster_run_id} (open the UI with: make ui)")
    if not result.success:
        raise CliError(f"{result.error or 'the run failed'} (step output: {step_log})")
    ok = sum(r["ok"] for r in result.runs)
    failed = sum(r["failed"] for r in result.runs)
    console.print(f"[bold]done[/]: {ok} ok, {failed} failed")
    return 0


# ---- workflows -------------------------------------------------------------


def add_workflows(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("workflows", help="list the workflows with their nodes, needs and outputs")
    p.set_defaults(func=cmd_workflows)


def cmd_workflows(args: argparse.Namespace) -> int:
    from lead_pipeline.defs.definitions import compiled_workflows

    for workflow in compiled_workflows():
        spec = workflow.spec
        console.print(f"[bold]{spec.name}[/]  ({spec.source or 'built-in'})")
        if spec.description:
            console.print(f"  {' '.join(spec.description.split())}")
        console.print(
            f"  needs: {', '.join(spec.needs) or '-'}    where: {spec.where or 'every row'}"
        )
        if spec.params:
            console.print(f"  params: {', '.join(f'{k}={v}' for k, v in spec.params.items())}")
        for node in workflow.nodes:
            when = f"  when {node.spec.when}" if node.spec.when else ""
            outputs = ", ".join(node.spec.outputs) or "-"
            console.print(f"    {node.index + 1}. {node.id} ({node.spec.type}) -> {outputs}{when}")
    return 0


# ---- wiring ----------------------------------------------------------------

SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    add_import,
    add_export,
    add_status,
    add_lists,
    add_enrich,
    add_workflows,
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except USER_ERRORS as exc:
        message = " ".join(scrub(str(exc)).split())
        print(f"error: {message}", file=sys.stderr)
        return USER_ERROR_EXIT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
