"""``lead-pipeline sync hubspot``: send a lead list's companies and founders to HubSpot."""

from __future__ import annotations

import argparse
import asyncio
import json

from lead_pipeline.cli.common import console, lead_name, open_store


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sync",
        help="send a lead list to a CRM (HubSpot): only records whose values changed",
        description="Upsert the list's companies (by domain) and founders with a work email "
        "(contacts, by email) into HubSpot, associate each contact with its company, and "
        "remember HubSpot's ids; a re-run sends only what changed since the last sync.",
    )
    p.add_argument("crm", choices=["hubspot"], help="the CRM")
    p.add_argument("--lead", required=True, type=lead_name, help="lead list name")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print the requests that would be sent; send nothing, write nothing, need no token",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Imported when it runs: the CRM sync costs 1.2 s of CPU beyond what ``--help`` loads.
    from lead_pipeline.crm import sync_hubspot

    store = open_store()
    try:
        report = asyncio.run(sync_hubspot(store, args.lead, dry_run=args.dry_run))
    finally:
        store.dispose()
    for request in report.requests:
        console.print(f"{request['method']} {request['path']}", highlight=False, markup=False)
        if request.get("note"):
            console.print(f"  ({request['note']})", highlight=False, markup=False)
        console.print(json.dumps(request["body"], indent=2), highlight=False, markup=False)
    for reason in report.skipped:
        console.print(f"[yellow]left out[/] {reason}", highlight=False)
    for error in report.errors:
        console.print(f"[red]failed[/] {error}", highlight=False)
    console.print(report.line(), highlight=False, markup=False, soft_wrap=True)
    return 0 if report.ok else 1
