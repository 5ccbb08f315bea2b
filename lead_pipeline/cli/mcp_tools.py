"""The tools of ``lead-pipeline mcp``: the command line as Model Context Protocol tools, over stdio.

Built on the official ``mcp`` SDK (``MCPServer``). An agent is a user who never
reads the README and retries whatever fails, so:

- **no spending without a cap.** ``run_workflow`` takes a ``max_cost`` in USD,
  required in its schema; a call without one is refused, saying why. Before
  anything runs, the run is priced with ``enrich --plan``'s own plan: when even its
  lowest cost is above ``max_cost`` the run is refused with the price, and
  otherwise it runs with ``--max-cost`` so the engine's budget stops it at the cap;
- **the CLI's code paths and messages.** Writes (import, run, export to a file) run
  the ``lead-pipeline`` command itself in a child process (its exit status and its
  one-line ``error:``), so a tool does what the command does and nothing Dagster or
  a provider prints can reach the protocol on stdout; reads (lists, workflows, plan,
  status, errors, rows) call the same library functions the commands call, with
  stdout sent to stderr;
- **errors are tool errors, one line, never a traceback**: the same messages the CLI
  prints, scrubbed of secrets.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict
from typing import Annotated, Any, Literal, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.types import ToolAnnotations
from pydantic import Field

from lead_pipeline import __version__
from lead_pipeline.cli import trace
from lead_pipeline.cli.common import CliError, open_store, user_errors
from lead_pipeline.engine.options import RunOptionFields
from lead_pipeline.engine.summary import describe_failures, group_failures
from lead_pipeline.providers.redact import scrub

INSTRUCTIONS = """\
lead-pipeline enriches lead lists (companies) with workflows. Typical session:
list_lead_lists and list_workflows to see what exists; import_leads to create a list
from a file or HubSpot; plan_run to see the rows and the price (nothing is spent);
run_workflow with a max_cost you accept (required; the run stops at it); status and
errors to read the outcome; trace_row for why one row says what it says; export_rows
for the first rows as data, or export_file to write the enriched list. Runs only
process rows that are missing, failed or stale.
"""

LeadName = Annotated[
    str,
    Field(
        description="a lead list name: lowercase letters, digits, '-' and '_' "
        "(list_lead_lists shows the existing ones)",
        pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$",
    ),
]
WorkflowName = Annotated[
    str,
    Field(description="a workflow name from list_workflows, or 'all' for the whole chain"),
]
Params = Annotated[
    dict[str, str] | None,
    Field(description="workflow parameters as NAME: VALUE, e.g. {'llm_threshold': '0.9'}"),
]
OUTPUT_LIMIT = 6000  # characters of a command's output returned to the model

T = TypeVar("T")


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Anything library code prints goes to stderr: stdout is the protocol."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


def _one_line(text: str) -> str:
    return " ".join(scrub(text).split())


def _call(fn: Callable[[], T]) -> T:
    """Run a reading function as the CLI would; a user error becomes a one-line tool error."""
    with _quiet():
        try:
            return fn()
        except user_errors() as exc:
            raise ToolError(_one_line(str(exc))) from None


def _store() -> Any:
    try:
        return open_store()
    except CliError as exc:
        raise ToolError(_one_line(str(exc))) from None


async def _command(*args: str) -> dict[str, Any]:
    """``lead-pipeline ARGS`` in a child process: its exit status and its output.

    Exit 2 (a usage error) and 3 (the run could not go) are tool errors carrying the
    command's own ``error:`` line; 0 and 1 (rows failed) are results.
    """
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "lead_pipeline.cli",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    stdout, stderr = out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    code = process.returncode
    if code not in (0, 1):
        lines = [ln for ln in stderr.splitlines() if ln.startswith("error:")]
        message = lines[-1].removeprefix("error:") if lines else stderr.strip()[-500:]
        raise ToolError(_one_line(message or f"lead-pipeline {args[0]} exited with {code}"))
    text = stdout.strip()
    if len(text) > OUTPUT_LIMIT:
        text = "...\n" + text[-OUTPUT_LIMIT:]
    return {"exit_status": code, "ok": code == 0, "output": text}


# ---- the tools --------------------------------------------------------------------


def list_lead_lists() -> list[dict[str, Any]]:
    """Every lead list: its name, row count, where it was imported from and when."""

    def read() -> list[dict[str, Any]]:
        store = _store()
        try:
            return [
                {
                    "name": info.name,
                    "rows": info.rows,
                    "source": info.source,
                    "updated_at": info.updated_at.isoformat(),
                }
                for info in store.lists()
            ]
        finally:
            store.dispose()

    return _call(read)


def list_workflows() -> list[dict[str, Any]]:
    """Every workflow that loads: what it does, what it needs first, which rows it takes
    (where), its nodes (type, provider kind) and its outputs (the columns it adds)."""
    # Imported when a tool is called, not when the server starts: the loader costs 0.16 s
    # of CPU beyond what ``--help`` loads, and registry() loads every node type (1.5 s).
    from lead_pipeline.engine.registry import registry
    from lead_pipeline.workflows.loader import load_workflows

    def read() -> list[dict[str, Any]]:
        loaded = load_workflows(node_types=registry(), set_aside_broken=True)
        return [
            {
                "name": w.name,
                "description": " ".join((w.spec.description or "").split()),
                "needs": list(w.spec.needs),
                "where": w.spec.where,
                "params": {name: p.default for name, p in w.spec.params.items()},
                "nodes": [{"id": n.id, "type": n.spec.type} for n in w.nodes],
                "outputs": sorted({o for n in w.nodes for o in n.spec.outputs}),
            }
            for w in loaded
        ]

    return _call(read)


async def import_leads(
    source: Annotated[
        str,
        Field(
            description="a lead file path on this machine (CSV, TSV, JSON, JSONL or Parquet), "
            "or 'hubspot' to import HubSpot companies"
        ),
    ],
    lead: LeadName,
    field_map: Annotated[
        dict[str, str] | None,
        Field(
            description="lead field -> column (or HubSpot property) overriding the guess, "
            "e.g. {'description': 'Notes'}; fields: name, website, description, one_liner, "
            "linkedin_url, country, email"
        ),
    ] = None,
    id_column: Annotated[
        str | None, Field(description="files only: a column holding a stable row id")
    ] = None,
    hubspot_list: Annotated[
        str | None, Field(description="source 'hubspot': the id of a HubSpot list")
    ] = None,
    hubspot_filters: Annotated[
        list[str] | None,
        Field(description="source 'hubspot': PROPERTY=VALUE filters, all must match"),
    ] = None,
) -> dict[str, Any]:
    """Create or update a lead list from a file or from HubSpot, as `lead-pipeline import`.

    Re-importing is safe: unchanged rows stay, changed fields update, results are kept.
    A file that cannot be imported is refused whole, naming the line and field.
    """
    args = ["import", source, "--lead", lead]
    for field_name, column in (field_map or {}).items():
        args += ["--map", f"{field_name}={column}"]
    if id_column:
        args += ["--id-column", id_column]
    if hubspot_list:
        args += ["--hubspot-list", hubspot_list]
    for text in hubspot_filters or []:
        args += ["--filter", text]
    return await _command(*args)


def _plan(
    lead: str,
    workflow: str,
    *,
    limit: int | None,
    force: bool,
    retry_failed: bool,
    params: dict[str, str] | None,
) -> Any:
    # Imported when a plan is asked for: the plan and its price tables cost 1.3 s of CPU
    # beyond what ``--help`` loads.
    from lead_pipeline.cli.spend import make_plan

    options: dict[str, Any] = {}
    if limit is not None:
        options["limit"] = limit
    if force:
        options["force"] = True
    if retry_failed:
        options["retry_failed"] = True
    if params:
        options["params"] = dict(params)
    try:
        RunOptionFields(**{k: v for k, v in options.items() if k != "params"})
    except ValueError as exc:
        raise ToolError(_one_line(str(exc))) from None
    store = _store()
    try:
        store.require_list(lead)
        return make_plan(argparse.Namespace(lead=lead, workflow=workflow), options, store)
    finally:
        store.dispose()


def _plan_data(plan: Any) -> dict[str, Any]:
    from lead_pipeline.engine.plan import render_plan  # loaded by _plan already

    return {
        "cost_min_usd": round(plan.cost_min, 6),
        "cost_max_usd": round(plan.cost_max, 6),
        "workflows": [
            {
                "workflow": w.workflow,
                "rows_to_process": w.rows,
                "why": dict(w.reasons),
                "up_to_date": w.up_to_date,
                "outside_where": w.not_eligible,
                "outside_where_would_cost_up_to_usd": round(w.saved_max, 6),
                "cost_min_usd": round(w.cost_min, 6),
                "cost_max_usd": round(w.cost_max, 6),
            }
            for w in plan.workflows
        ],
        "left_out": dict(plan.skipped),
        "text": "\n".join(render_plan(plan)),
    }


def plan_run(
    lead: LeadName,
    workflow: WorkflowName = "all",
    limit: Annotated[int | None, Field(ge=1, description="process at most this many rows")] = None,
    force: Annotated[bool, Field(description="price every row, not only pending ones")] = False,
    retry_failed: Annotated[bool, Field(description="price only the failed rows")] = False,
    params: Params = None,
) -> dict[str, Any]:
    """The price of a run before it happens, as `enrich --plan`: per workflow the rows to
    process and why, per node the provider, calls and cost range, and the total. Calls no
    provider and spends nothing. Use it before run_workflow to choose max_cost."""
    plan = _call(
        lambda: _plan(
            lead, workflow, limit=limit, force=force, retry_failed=retry_failed, params=params
        )
    )
    return _plan_data(plan)


async def run_workflow(
    lead: LeadName,
    workflow: WorkflowName,
    max_cost: Annotated[
        float | None,
        Field(
            ge=0,
            description="REQUIRED: the most this run may spend, in USD. The run is priced "
            "first (plan_run) and refused when even its lowest cost is above this; otherwise "
            "it stops once it has spent this much",
        ),
    ] = None,
    limit: Annotated[int | None, Field(ge=1, description="process at most this many rows")] = None,
    parallel: Annotated[int | None, Field(ge=1, description="rows in flight (default 5)")] = None,
    force: Annotated[bool, Field(description="re-run every row, not only pending ones")] = False,
    retry_failed: Annotated[bool, Field(description="re-run only the failed rows")] = False,
    params: Params = None,
) -> dict[str, Any]:
    """Run a workflow (or 'all') over a lead list, as `lead-pipeline enrich`, never spending
    more than max_cost. Only rows that are missing, failed or stale are processed. Returns
    the command's summary and exit status (1: some rows failed; see errors)."""
    if max_cost is None:
        raise ToolError(
            "refused: run_workflow needs max_cost, the most this run may spend in USD; "
            "call plan_run first to see the price, then pass a max_cost you accept"
        )
    plan = _call(
        lambda: _plan(
            lead, workflow, limit=limit, force=force, retry_failed=retry_failed, params=params
        )
    )
    if plan.cost_min > max_cost:
        raise ToolError(
            f"refused: this run costs at least ${plan.cost_min:.4f} (up to ${plan.cost_max:.4f}), "
            f"more than max_cost ${max_cost:.4f}; nothing was called or spent. Raise max_cost, "
            "or pass limit to run fewer rows"
        )
    args = ["enrich", "--lead", lead, "--workflow", workflow, "--max-cost", repr(max_cost)]
    args.append("--yes")  # the cap is the agent's answer to the question a user is asked
    if limit is not None:
        args += ["--limit", str(limit)]
    if parallel is not None:
        args += ["--parallel", str(parallel)]
    if force:
        args.append("--force")
    if retry_failed:
        args.append("--retry-failed")
    for name, value in (params or {}).items():
        args += ["--param", f"{name}={value}"]
    result = await _command(*args)
    result["price"] = {"cost_min_usd": plan.cost_min, "cost_max_usd": plan.cost_max}
    return result


def status(lead: LeadName) -> dict[str, Any]:
    """A lead list's rows and, per workflow, how many rows are ok, failed, pending and
    skipped, and what they cost, as `lead-pipeline status`."""
    # Imported when a tool is called, not when the server starts: the loader costs 0.16 s
    # of CPU beyond what ``--help`` loads, and registry() loads every node type (1.5 s).
    from lead_pipeline.engine.registry import registry
    from lead_pipeline.workflows.loader import load_workflows

    def read() -> dict[str, Any]:
        workflows = load_workflows(node_types=registry(), set_aside_broken=True).ordered()
        nodes = {w.name: [n.id for n in w.nodes] for w in workflows}
        store = _store()
        try:
            store.require_list(lead)
            return asdict(store.status(lead, nodes))
        finally:
            store.dispose()

    return _call(read)


def errors(
    lead: LeadName,
    workflow: Annotated[str | None, Field(description="only this workflow's failures")] = None,
    limit: Annotated[int, Field(ge=1, le=500, description="rows to return")] = 20,
) -> dict[str, Any]:
    """The failed rows of a list, newest first (row id, name, workflow, node, error,
    attempts), and their causes grouped, as `lead-pipeline errors`. Fix the cause, then
    run_workflow with retry_failed."""

    def read() -> dict[str, Any]:
        store = _store()
        try:
            store.require_list(lead)
            failures = store.failures(lead, workflow)
        finally:
            store.dispose()
        causes, other_causes, other_rows = group_failures(failures, limit=10)
        return {
            "failed_rows": len(failures),
            "by_cause": describe_failures(causes, other_causes, other_rows) if failures else "",
            "rows": [
                {
                    **asdict(f),
                    "finished_at": f.finished_at.isoformat() if f.finished_at else None,
                }
                for f in failures[:limit]
            ],
        }

    return _call(read)


def trace_row(
    lead: LeadName,
    row: Annotated[str, Field(description="the row's id (the _id of export_rows or errors)")],
    workflow: Annotated[str | None, Field(description="only this workflow")] = None,
) -> dict[str, Any]:
    """Why one row says what it says, as `lead-pipeline trace --json`: per workflow and node
    the status and reason, when and in which run, the inputs read, the outputs and their
    evidence, and every provider call made for it (cache or live, HTTP status, latency,
    attempts, tokens, cost). Calls no provider and spends nothing."""
    trace_data: dict[str, Any] = _call(lambda: trace.load(lead, row, workflow))
    return trace_data


def export_rows(
    lead: LeadName,
    limit: Annotated[int, Field(ge=1, le=200, description="rows to return")] = 10,
) -> dict[str, Any]:
    """The first rows of the enriched list as data: each row's id, imported columns and
    every workflow's outputs (what `lead-pipeline export` writes)."""

    def read() -> dict[str, Any]:
        store = _store()
        try:
            store.require_list(lead)
            values = store.row_values(lead, [r.row_id for r in store.rows(lead)][:limit])
            total = store.row_count(lead)
        finally:
            store.dispose()
        return {"rows_in_list": total, "rows": [{"_id": k, **v} for k, v in values.items()]}

    return _call(read)


async def export_file(
    lead: LeadName,
    format: Annotated[Literal["csv", "jsonl", "parquet"], Field(description="file format")] = "csv",
    path: Annotated[
        str | None,
        Field(description="where to write it (default data/exports/<lead>.<format>)"),
    ] = None,
) -> dict[str, Any]:
    """Write the enriched list to a file, as `lead-pipeline export`; returns its path."""
    args = ["export", "--lead", lead, "--format", format]
    if path:
        args += ["--out", path]
    return await _command(*args)


READ_ONLY = {
    "list_lead_lists",
    "list_workflows",
    "plan_run",
    "status",
    "errors",
    "trace_row",
    "export_rows",
}
TOOLS: list[Callable[..., Any]] = [
    list_lead_lists,
    list_workflows,
    import_leads,
    plan_run,
    run_workflow,
    status,
    errors,
    trace_row,
    export_rows,
    export_file,
]


def build_server() -> MCPServer:
    """The server and its tools; ``run_workflow``'s schema marks ``max_cost`` required."""
    tools = []
    for fn in TOOLS:
        tool = Tool.from_function(
            fn,
            annotations=ToolAnnotations(
                read_only_hint=fn.__name__ in READ_ONLY,
                open_world_hint=fn.__name__ in ("run_workflow", "import_leads"),
            ),
        )
        if fn is run_workflow:
            tool.parameters["required"] = sorted({*tool.parameters.get("required", []), "max_cost"})
        tools.append(tool)
    # WARNING: the SDK and the store's migrations log each step at INFO on stderr, which
    # an agent's host shows as the server's log.
    return MCPServer(
        "lead-pipeline",
        instructions=INSTRUCTIONS,
        version=__version__,
        tools=tools,
        log_level="WARNING",
    )


def serve() -> None:
    build_server().run("stdio")
