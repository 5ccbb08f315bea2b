"""``lead-pipeline enrich``: run workflows over a lead list through Dagster, with live progress."""

from __future__ import annotations

import argparse

from lead_pipeline.cli.common import (
    CliError,
    add_option_flags,
    console,
    lead_name,
    open_store,
    options_from_args,
)
from lead_pipeline.settings import get_settings


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


def run(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from lead_pipeline.cli import spend
    from lead_pipeline.defs.launch import enrich
    from lead_pipeline.store import ListStatus

    options = _options(args)
    store = open_store()
    store.require_list(args.lead)
    if options.get("plan_only") or not args.yes:
        plan = spend.make_plan(args, options, store)
        if options.get("plan_only"):
            spend.show(plan)
            store.dispose()
            return 0
        spend.confirm(plan, yes=args.yes, max_cost=args.max_cost)
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

    step_log = get_settings().data_dir / "logs" / f"enrich-{args.lead}.log"
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
