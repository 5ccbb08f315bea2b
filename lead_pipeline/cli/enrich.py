"""``lead-pipeline enrich``: run workflows over a lead list through Dagster, with live progress."""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING, Any

from lead_pipeline.cli.common import (
    COULD_NOT_RUN_EXIT,
    CliError,
    add_option_flags,
    console,
    lead_name,
    open_store,
    options_from_args,
)
from lead_pipeline.engine.summary import describe_failures, group_failures
from lead_pipeline.settings import get_settings

if TYPE_CHECKING:
    from lead_pipeline.store import LeadStore


def _param(value: str) -> tuple[str, str]:
    key, sep, raw = value.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {value!r}")
    return key.strip(), raw.strip()


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "enrich",
        help="run a workflow (or the whole chain) over a lead list through Dagster",
        description="Materialize workflow assets for one lead list on the same code path as "
        "the Dagster UI; the run shows in the UI. Only rows that are missing, failed or stale "
        "are processed unless --force is given.",
    )
    p.add_argument("--lead", required=True, type=lead_name, help="lead list name")
    p.add_argument("--workflow", default="all", help="a workflow name, or 'all' (the chain)")
    add_option_flags(p)
    p.add_argument(
        "--param",
        type=_param,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a workflow parameter, e.g. llm_threshold=0.9 (repeatable)",
    )
    p.add_argument(
        "--wait",
        action="store_true",
        help="with --lane batch: wait for the LLM batches, collecting each as it ends and "
        "running the rows on, until none is open (polled every LEAD_PIPELINE_BATCH_POLL_S)",
    )
    p.add_argument(
        "--yes",
        action="store_true",
        help="do not ask before a run above LEAD_PIPELINE_CONFIRM_ABOVE_USD (for scripts)",
    )
    p.set_defaults(func=run)


def _options(args: argparse.Namespace) -> dict:
    """The run options given as flags, validated by the run-options model."""
    try:
        options = options_from_args(args)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if args.param:
        options["params"] = dict(args.param)
    return options


def _require_rows(store: Any, lead: str, wanted: list[str]) -> None:
    """``--row`` ids the list does not have are a usage error naming them: a typo must not
    run nothing and exit 0."""
    found = {row.row_id for row in store.rows(lead, list(dict.fromkeys(wanted)))}
    unknown = [row for row in dict.fromkeys(wanted) if row not in found]
    if unknown:
        store.dispose()
        shown = ", ".join(repr(r) for r in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        raise CliError(
            f"--row: lead list {lead!r} has no row {shown} "
            "(ids are the _id column of an export, or the first column of `errors`)"
        )


# Exit codes of ``enrich`` (documented in the README).
EXIT_OK = 0  # every processed row ok or skipped
EXIT_ROWS_FAILED = 1  # the run went through, and some rows failed


def run(args: argparse.Namespace) -> int:
    # Imported when enrich runs: spend loads the plan and its price tables, 1.3 s of CPU
    # beyond what ``--help`` loads.
    from lead_pipeline.cli import spend

    options = _options(args)
    if args.wait and options.get("lane") != "batch":
        raise CliError("--wait waits for LLM batches: use it with --lane batch")
    store = open_store()
    store.require_list(args.lead)
    if options.get("rows"):
        _require_rows(store, args.lead, options["rows"])
    if options.get("plan_only"):
        plan = spend.make_plan(args, options, store)
        assert plan is not None
        spend.show(plan)
        store.dispose()
        return 0
    selected = None
    if not args.yes:
        # Only a run that may call a provider is priced, and the plan reads only the rows
        # it may process: nothing to do costs a selection (reused by the launch), not a
        # read of the whole list.
        plan = spend.make_plan(args, options, store, only_if_paid=True)
        if plan is not None:
            spend.confirm(plan, yes=args.yes, max_cost=args.max_cost)
            selected = plan.selections
    code = _launch(args, options, store, selected)
    while args.wait and _await_batches(args.lead):
        # The plan's selections are of the first run: a later one selects again.
        code = _launch(args, options, open_store(), None)
    return code


def _await_batches(lead: str) -> bool:
    """Poll ``lead``'s uncollected LLM batches, with a progress line, until one has ended
    (True: a run collects it) or none is left (False)."""
    # Imported when it waits: the batch lane costs 1.3 s of CPU beyond what ``--help`` loads.
    from lead_pipeline.engine.batch_lane import poll_batches

    settings = get_settings()
    while True:
        store = open_store()
        try:
            polled = poll_batches(store, lead, settings)
        finally:
            store.dispose()
        if not polled.open and not polled.ended:
            return False
        console.print(polled.line(), highlight=False)
        if polled.ended:
            return True
        time.sleep(settings.batch_poll_s)


def _launch(args: argparse.Namespace, options: dict, store: LeadStore, selected: Any | None) -> int:
    """One run of the workflows, with a progress bar; its exit code."""
    # Imported when a run starts: the launcher (the engine, the providers) costs 1.4 s and
    # rich.progress 0.05 s of CPU beyond what ``--help`` loads.
    from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

    from lead_pipeline.launching.launch import RunProgress, enrich

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[counted]} rows"),
        TextColumn(
            "[green]{task.fields[ok]} ok[/] [red]{task.fields[failed]} failed[/]"
            "{task.fields[no_answer]}"
        ),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )
    tasks: dict[str, TaskID] = {}
    started: dict[str, float] = {}

    def show(runs: list[RunProgress]) -> None:
        # This run's rows only: a workflow shows once its select step has chosen them.
        for wf in runs:
            if wf.selected is None:
                continue
            if wf.workflow not in tasks:
                tasks[wf.workflow] = progress.add_task(
                    wf.workflow,
                    total=wf.selected,
                    ok=0,
                    failed=0,
                    no_answer="",
                    rate="",
                    counted="",
                )
                started[wf.workflow] = time.monotonic()
            elapsed = max(time.monotonic() - started[wf.workflow], 1e-6)
            rate = f"{60 * wf.processed / elapsed:.0f} rows/min" if wf.processed else ""
            progress.update(
                tasks[wf.workflow],
                completed=wf.processed,
                ok=wf.ok,
                failed=wf.failed,
                no_answer=f" {wf.no_answer} no answer" if wf.no_answer else "",
                rate=rate,
                counted=f"{wf.processed}/{wf.selected}",
            )

    step_log = get_settings().data_dir / "logs" / f"enrich-{args.lead}.log"
    with progress:
        result = enrich(
            args.lead,
            args.workflow,
            options,
            store=store,
            on_progress=show,
            step_log=step_log,
            selected=selected,
        )
    for problem in result.broken:
        console.print(f"[yellow]warning: left out a workflow file that did not load[/]: {problem}")
    for name, reason in result.skipped.items():
        console.print(f"[yellow]skipped {name}[/]: {reason}")
    for name, selection in result.up_to_date.items():
        console.print(
            f"{name}: nothing to do ({selection.up_to_date} rows up to date, "
            f"{selection.not_eligible} outside where, {selection.left_alone} left alone); "
            "no Dagster run launched",
            highlight=False,
        )
    for run in result.runs:
        console.print(run["message"] or f"{run['workflow']}: {run['status']}")
    ok = sum(r["ok"] for r in result.runs)
    failed = sum(r["failed"] for r in result.runs)
    if failed:
        _print_causes(store, args.lead, result.runs, failed)
    store.dispose()
    if result.dagster_run_id:
        console.print(f"Dagster run {result.dagster_run_id} (open the UI with: make ui)")
    if not result.success and not result.rows_failed:
        console.print(
            f"[bold red]the run could not finish[/]: {result.error or 'the run failed'}",
            highlight=False,
        )
        console.print(f"step output: {step_log}", highlight=False)
        return COULD_NOT_RUN_EXIT  # a workflow could not run (a lock held, a step crashed)
    if not result.success:
        console.print(f"[bold red]stopped[/]: {result.error}", highlight=False)
    console.print(f"[bold]done[/]: {ok} ok, {failed} failed")
    return EXIT_ROWS_FAILED if failed or not result.success else EXIT_OK


def _print_causes(store: LeadStore, lead_list: str, runs: list[dict], failed: int) -> None:
    """This run's failed rows grouped by cause, with a few row ids and names each."""
    failures = [f for r in runs for f in store.failures(lead_list, run_id=r["id"])]
    causes, other_causes, other_rows = group_failures(failures)
    count = len(causes) + other_causes
    console.print(
        f"[bold red]{failed} row{'s' if failed != 1 else ''} failed[/], "
        f"{count} cause{'s' if count != 1 else ''}:",
        highlight=False,
    )
    console.print(
        describe_failures(causes, other_causes, other_rows), highlight=False, markup=False
    )
    console.print(f"every failed row: lead-pipeline errors --lead {lead_list}", highlight=False)
