"""``lead-pipeline lists``: every lead list in the store."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from rich.table import Table

from lead_pipeline.cli.common import console, describe_source, open_store
from lead_pipeline.leads.fields import FieldMapping

if TYPE_CHECKING:
    from lead_pipeline.store import LeadListInfo


def describe_fields(info: LeadListInfo | None) -> str:
    """The list's field mapping in one line, as ``lists`` and ``status`` show it."""
    if info is None or info.field_map is None:
        return "not recorded yet (imported before mappings were kept; re-import to record it)"
    return FieldMapping.from_json(info.field_map).describe()


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lists", help="every lead list in the store")
    p.add_argument(
        "--prune-partitions",
        action="store_true",
        help="remove Dagster lead_lists partitions with no lead list (added in the UI by hand)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Imported when it runs: the importer costs 1.2 s of CPU beyond what ``--help`` loads.
    from lead_pipeline.leads.importer import describe_id_rule

    store = open_store()
    try:
        infos = store.lists()
    finally:
        store.dispose()
    _ghosts({info.name for info in infos}, prune=args.prune_partitions)
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
            describe_source(info.source),
        )
    console.print(table)
    # Below the table, not in it: a mapping is long, and folded cells are hard to read.
    for info in infos:
        console.print(
            f"{info.name}: fields: {describe_fields(info)}; ids: {describe_id_rule(info.id_rule)}",
            soft_wrap=True,
        )
    return 0


def _ghosts(known: set[str], *, prune: bool) -> None:
    """Partitions added in the UI for lists never imported: shown, and removed on request."""
    # Imported when it runs: Dagster and the partitions cost 2.4 s of CPU beyond ``--help``.
    from lead_pipeline.defs.partitions import ghost_partitions, remove_partitions

    ghosts = ghost_partitions(known)
    if ghosts and prune:
        remove_partitions(ghosts)
        console.print(f"removed {len(ghosts)} partition(s) with no lead list: {', '.join(ghosts)}")
    elif ghosts:
        console.print(
            f"[yellow]warning[/]: Dagster partition(s) with no lead list: {', '.join(ghosts)} "
            "(runs of them are refused); remove them with: lead-pipeline lists --prune-partitions",
            highlight=False,
        )
