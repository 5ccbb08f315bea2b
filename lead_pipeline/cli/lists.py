"""``lead-pipeline lists``: every lead list in the store."""

from __future__ import annotations

import argparse

from rich.table import Table

from lead_pipeline.cli.common import console, open_store


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lists", help="every lead list in the store")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
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
