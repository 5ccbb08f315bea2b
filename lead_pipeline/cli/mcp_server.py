"""``lead-pipeline mcp``: serve the command's tools to an agent over stdio (MCP)."""

from __future__ import annotations

import argparse

from lead_pipeline.cli.common import CliError


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "mcp",
        help="serve lead-pipeline to an AI agent: a Model Context Protocol server on stdio",
        description="Start a Model Context Protocol server on stdin/stdout whose tools mirror "
        "this command: list lists and workflows, import, plan (the price), run (a max_cost "
        "is required and enforced), status, errors and export. Configure it in your agent "
        "as the command `lead-pipeline mcp`.",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:  # the MCP SDK and the tools cost 0.8 s of CPU beyond what ``--help`` loads
        from lead_pipeline.cli.mcp_tools import serve
    except ModuleNotFoundError as exc:
        if exc.name is None or not exc.name.startswith("mcp"):
            raise
        raise CliError(
            "the MCP server needs the mcp package, a dependency of lead-pipeline: "
            "install the package again (make setup, or pip install -e .)"
        ) from None
    serve()
    return 0
