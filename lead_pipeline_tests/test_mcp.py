"""``lead-pipeline mcp`` driven by the official SDK's own stdio client (nobody here wrote it):
the tools and their schemas, a small paid workflow end to end against a stand-in, and the
two refusals: a run without a cap, and a run whose price is above its cap."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from lead_pipeline.providers.urlguard import TRUSTED_HOSTS_ENV
from lead_pipeline_tests.engine.conftest import CompanyApi

pytestmark = pytest.mark.slow

WORKFLOW = """\
name: sizing
description: the company's size from a paid API
nodes:
  - id: profile
    type: http
    provider: companyapi
    cost_per_request: 0.01
    url: "{base}/profile"
    params: {{name: "{{{{ name }}}}"}}
    extract: {{size: "profile.size"}}
    outputs: {{size: integer}}
"""
LEADS = [
    {"name": "Acme", "website": "acme.com"},
    {"name": "Globex", "website": "globex.io"},
    {"name": "Initech", "website": "initech.com"},
    {"name": "Hooli", "website": "hooli.xyz"},
    {"name": "Umbrella", "website": "umbrella.co"},
]
TOOLS = {
    "list_lead_lists",
    "list_workflows",
    "import_leads",
    "plan_run",
    "run_workflow",
    "status",
    "errors",
    "trace_row",
    "export_rows",
    "export_file",
}


def text(result: Any) -> str:
    return " ".join(c.text for c in result.content if getattr(c, "text", None))


def data(result: Any) -> Any:
    assert not result.is_error, text(result)
    if isinstance(result.structured_content, dict) and set(result.structured_content) == {"result"}:
        return result.structured_content["result"]
    return result.structured_content


async def test_an_agent_plans_and_runs_within_its_cap_and_nothing_without_one(
    tmp_path: Path,
) -> None:
    with CompanyApi() as api:
        (tmp_path / "wf").mkdir()
        (tmp_path / "wf" / "sizing.yaml").write_text(WORKFLOW.format(base=api.root_url))
        leads = tmp_path / "leads.json"
        leads.write_text(json.dumps(LEADS))
        env = {
            **os.environ,
            "LEAD_PIPELINE_WORKFLOWS": str(tmp_path / "wf"),
            TRUSTED_HOSTS_ENV: f"127.0.0.1:{api.port}",
        }
        server = StdioServerParameters(
            command=sys.executable, args=["-m", "lead_pipeline.cli", "mcp"], env=env
        )
        async with (
            stdio_client(server) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            tools = {t.name: t for t in (await session.list_tools()).tools}
            assert set(tools) == TOOLS
            for tool in tools.values():
                jsonschema.Draft202012Validator.check_schema(tool.input_schema)
                assert tool.description and len(tool.description) > 40, tool.name
            run_schema = tools["run_workflow"].input_schema
            assert {"lead", "workflow", "max_cost"} <= set(run_schema["required"])
            assert "REQUIRED" in run_schema["properties"]["max_cost"]["description"]
            assert tools["plan_run"].annotations.read_only_hint is True

            assert data(await session.call_tool("list_lead_lists", {})) == []
            names = {w["name"] for w in data(await session.call_tool("list_workflows", {}))}
            assert "sizing" in names and "b2b_only" in names

            imported = data(
                await session.call_tool("import_leads", {"source": str(leads), "lead": "demo"})
            )
            assert imported["ok"] and "lead list 'demo'" in imported["output"]
            bad = await session.call_tool(
                "import_leads", {"source": str(tmp_path / "missing.csv"), "lead": "demo"}
            )
            assert bad.is_error and "missing.csv" in text(bad) and "Traceback" not in text(bad)

            plan = data(await session.call_tool("plan_run", {"lead": "demo", "workflow": "sizing"}))
            assert plan["cost_min_usd"] == pytest.approx(0.05)
            assert plan["workflows"][0]["rows_to_process"] == 5

            # No cap: refused, saying why; nothing was called.
            uncapped = await session.call_tool(
                "run_workflow", {"lead": "demo", "workflow": "sizing"}
            )
            assert uncapped.is_error
            assert "refused: run_workflow needs max_cost" in text(uncapped)
            # A cap under the price: refused with the price; nothing was called.
            over = await session.call_tool(
                "run_workflow", {"lead": "demo", "workflow": "sizing", "max_cost": 0.02}
            )
            assert over.is_error and "costs at least $0.0500" in text(over)
            assert "more than max_cost $0.0200" in text(over)
            assert api.count("/profile") == 0

            ran = data(
                await session.call_tool(
                    "run_workflow", {"lead": "demo", "workflow": "sizing", "max_cost": 0.10}
                )
            )
            assert ran["ok"] and "5 ok, 0 failed" in ran["output"], ran
            assert api.count("/profile") == 5

            status = data(await session.call_tool("status", {"lead": "demo"}))
            sizing = next(w for w in status["workflows"] if w["workflow"] == "sizing")
            assert (sizing["ok"], sizing["failed"]) == (5, 0)
            assert sizing["cost"] == pytest.approx(0.05)
            assert data(await session.call_tool("errors", {"lead": "demo"}))["failed_rows"] == 0
            rows = data(await session.call_tool("export_rows", {"lead": "demo", "limit": 2}))
            assert rows["rows_in_list"] == 5
            assert [r["size"] for r in rows["rows"]] == [40, 60]  # len(name) * 10
            # Why the first row says 40: its node's result and the one live call it made.
            first = rows["rows"][0]["_id"]
            traced = data(await session.call_tool("trace_row", {"lead": "demo", "row": first}))
            [sizing_trace] = [w for w in traced["workflows"] if w["workflow"] == "sizing"]
            [profile] = sizing_trace["nodes"]
            assert profile["status"] == "ok" and profile["outputs"] == {"size": 40}
            assert [c.get("cached") for c in profile["calls"]] == [False], profile["calls"]
            assert profile["cost"] == pytest.approx(0.01)
            missing = await session.call_tool("trace_row", {"lead": "demo", "row": "no-such"})
            assert missing.is_error and "no row 'no-such'" in text(missing)
            assert "Traceback" not in text(missing)
            out = tmp_path / "demo.csv"
            exported = data(
                await session.call_tool("export_file", {"lead": "demo", "path": str(out)})
            )
            assert exported["ok"] and out.read_text().startswith("_id,")

            unknown = await session.call_tool("status", {"lead": "nope"})
            assert unknown.is_error and "lead list 'nope' does not exist" in text(unknown)
            bad_name = await session.call_tool("status", {"lead": "Not A Name"})
            assert bad_name.is_error and "Traceback" not in text(bad_name)
