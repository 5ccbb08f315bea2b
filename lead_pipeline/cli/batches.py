"""``lead-pipeline batches``: the LLM batches the batch lane submitted, and cancelling one."""

from __future__ import annotations

import argparse

from rich.table import Table

from lead_pipeline.cli.common import CliError, console, lead_name, open_store
from lead_pipeline.settings import get_settings


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "batches",
        help="list the LLM batches of `enrich --lane batch`, or cancel one",
        description="Lists batches newest first: provider, id, rows, state, the provider's "
        "counts, when submitted and the most they can cost. `batches cancel ID` asks the "
        "provider to cancel one; its unanswered rows fail with the provider's reason when "
        "it is collected, and the next run asks them again.",
    )
    p.add_argument("action", nargs="?", choices=["cancel"], help="cancel the batch ID")
    p.add_argument("batch", nargs="?", metavar="ID", help="our key or the provider's batch id")
    p.add_argument("--lead", type=lead_name, help="only this lead list's batches")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.action == "cancel":
        return _cancel(args.batch)
    store = open_store()
    try:
        batches = store.batches(args.lead)
    finally:
        store.dispose()
    if not batches:
        console.print("no LLM batches" + (f" for {args.lead}" if args.lead else ""))
        return 0
    table = Table(title="LLM batches")
    for column in ("lead list", "workflow", "provider", "id", "rows", "state", "counts"):
        table.add_column(column)
    table.add_column("submitted (UTC)")
    table.add_column("at most", justify="right")
    for b in batches:
        counts = ", ".join(f"{k} {v}" for k, v in (b.counts or {}).items() if v) or "-"
        table.add_row(
            b.lead_list,
            b.workflow,
            b.provider,
            b.batch_id or "(being created)",
            str(b.rows),
            b.state + (f" ({b.status})" if b.status and b.status != b.state else ""),
            counts,
            f"{b.submitted_at:%Y-%m-%d %H:%M}",
            f"${b.price:.4f}",
        )
    console.print(table)
    return 0


def _cancel(batch: str | None) -> int:
    # Imported when a batch is cancelled: the batch API clients cost 0.18 s of CPU
    # beyond what ``--help`` loads.
    from lead_pipeline.providers.batch_api import BatchError, batch_api

    if not batch:
        raise CliError("batches cancel: name the batch ID (see `lead-pipeline batches`)")
    store = open_store()
    try:
        record = store.batch(batch)
        if record is None:
            raise CliError(f"batches cancel: no batch {batch!r} (see `lead-pipeline batches`)")
        if record.batch_id is None or record.state in ("ended", "collected"):
            raise CliError(f"batches cancel: batch {batch!r} is {record.state}, not open")
        try:
            with batch_api(record.provider, get_settings()) as api:
                state = api.cancel(record.batch_id)
        except BatchError as exc:
            raise CliError(str(exc)) from None
        store.batch_seen(record.key, state.status, state.counts, ended=state.ended)
    finally:
        store.dispose()
    console.print(
        f"asked {record.provider} to cancel {record.batch_id} ({state.status}); the next "
        f"`enrich --lead {record.lead_list}` collects what it answered",
        highlight=False,
    )
    return 0
