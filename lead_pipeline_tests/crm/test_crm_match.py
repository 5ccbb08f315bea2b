"""The CRM match: batched HubSpot searches mark the companies the CRM has, and the sync
creates no second company for them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from lead_pipeline.crm import sync_hubspot
from lead_pipeline.engine.compile import CompiledWorkflow
from lead_pipeline.engine.options import RunOptions
from lead_pipeline.engine.plan import RunPlan, plan_workflow, render_plan
from lead_pipeline.engine.registry import registry
from lead_pipeline.settings import get_settings, reset_settings
from lead_pipeline.store import OK, SKIPPED, LeadStore
from lead_pipeline.workflows.loader import load_workflows
from lead_pipeline_tests.engine.test_runner import materialize
from lead_pipeline_tests.servers import HubSpotServer

EXAMPLES = Path(__file__).resolve().parents[2] / "lead_pipeline" / "workflows" / "examples"
PAID = """\
name: paid
needs: [in_crm]
where: "not in_crm"
nodes:
  - id: shout
    type: expression
    values: {loud: "upper(name)"}
    outputs: {loud: string}
"""


@pytest.fixture
def hubspot(monkeypatch: pytest.MonkeyPatch) -> Iterator[HubSpotServer]:
    monkeypatch.setenv("LEAD_PIPELINE_RETRY", '{"max_attempts": 3, "base_delay": 0.01}')
    fast = {"hubspot": {"requests_per_second": 500}, "hubspot_search": {"requests_per_second": 500}}
    monkeypatch.setenv("LEAD_PIPELINE_RATE_LIMITS", json.dumps(fast))
    with HubSpotServer(per_window=100_000, search_per_second=1000) as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        reset_settings()
        yield server
    reset_settings()


PAID_API = """\
name: paid_api
needs: [in_crm]
where: "not in_crm"
nodes:
  - id: lookup
    type: http
    provider: sizes
    cost_per_request: 0.01
    url: "https://sizes.example/v1/companies"
    params: {domain: "{{ website }}"}
    extract: {size: "size"}
    outputs: {size: integer}
"""


@pytest.fixture
def workflows(tmp_path: Path) -> dict[str, CompiledWorkflow]:
    (tmp_path / "paid.yaml").write_text(PAID)
    (tmp_path / "paid_api.yaml").write_text(PAID_API)
    return {
        w.name: w
        for w in load_workflows([EXAMPLES, tmp_path], builtin_dirs=[], node_types=registry())
    }


def crm(server: HubSpotServer) -> dict[str, str]:
    return {
        "acme": server.add_company(
            name="Acme", domain="www.acme.com", hubspot_owner_id="77", lifecyclestage="customer"
        ),
        "acme_dupe": server.add_company(name="Acme (old)", domain="acme.com"),
        "globex": server.add_company(name="Globex", domain="globex.io"),
        "initech": server.add_company(name="Initech, LLC", lifecyclestage="lead"),  # no domain
        "acme_robotics": server.add_company(name="Acme"),  # a namesake with no domain
    }


ROWS = [
    ("acme.com", {"name": "Acme Corp", "website": "https://app.acme.com/login"}),
    ("globex.io", {"name": "Globex", "website": "globex.io"}),
    ("initech", {"name": "Initech"}),  # no website: by name, legal form folded
    ("acme-robotics", {"name": "Acme Robotics"}),  # no website, never "Acme" by containment
    *[(f"new{i}.com", {"name": f"New {i}", "website": f"https://new{i}.com"}) for i in range(60)],
]


def test_dedupe_marks_the_known_companies_in_batches_and_where_skips_them(
    store: LeadStore, hubspot: HubSpotServer, workflows: dict[str, CompiledWorkflow]
) -> None:
    ids = crm(hubspot)
    store.import_rows("demo", ROWS)
    summary = materialize(store, workflows["in_crm"], parallel=64)
    assert summary.ok == len(ROWS), summary
    results = store.results("demo", ["in_crm"])
    out = {row: r[("in_crm", "match")].outputs for row, r in results.items()}
    assert out["acme.com"] == {
        "in_crm": True,
        "crm_id": ids["acme"],  # the oldest of the two acme.com records
        "crm_owner": "77",
        "crm_lifecycle_stage": "customer",
        "crm_matched_by": "domain",
    }
    assert out["globex.io"]["crm_id"] == ids["globex"]
    assert out["initech"] | {} == {
        "in_crm": True,
        "crm_id": ids["initech"],
        "crm_owner": None,
        "crm_lifecycle_stage": "lead",
        "crm_matched_by": "name",
    }
    assert out["acme-robotics"]["in_crm"] is False
    assert all(out[f"new{i}.com"]["in_crm"] is False for i in range(60))
    assert all(r[("in_crm", "match")].status == OK for r in results.values())
    searches = [r.json for r in hubspot.requests if r.path.endswith("/search")]
    # 62 domains and 2 names in a handful of searches, not one per row.
    assert len(searches) <= 6, len(searches)
    domain_searches = [
        s for s in searches if s["filterGroups"][0]["filters"][0]["operator"] == "IN"
    ]
    assert all(len(s["filterGroups"][0]["filters"][0]["values"]) <= 100 for s in domain_searches)

    # The paid workflow's plan leaves out the three companies the CRM has.
    plan = plan_workflow(store, workflows["paid"], "demo", RunOptions(), settings=get_settings())
    assert (plan.rows, plan.not_eligible) == (len(ROWS) - 3, 3)
    # A paid API behind the same filter: the plan says what skipping them saves.
    api_plan = plan_workflow(
        store, workflows["paid_api"], "demo", RunOptions(), settings=get_settings()
    )
    assert (api_plan.rows, api_plan.not_eligible) == (len(ROWS) - 3, 3)
    assert api_plan.cost_max == pytest.approx(0.01 * (len(ROWS) - 3))
    assert api_plan.saved_max == pytest.approx(0.03)
    lines = render_plan(RunPlan(lead_list="demo", parallel=5, workflows=[api_plan]))
    assert "3 outside where (not spent on them: up to $0.0300)" in " ".join(lines)
    materialize(store, workflows["paid"])
    paid = {row: r[("paid", "shout")] for row, r in store.results("demo", ["paid"]).items()}
    assert [paid[row].status for row in ("acme.com", "globex.io", "initech")] == [SKIPPED] * 3
    assert paid["new1.com"].status == OK and paid["new1.com"].outputs == {"loud": "NEW 1"}


async def test_the_sync_updates_the_crm_s_company_instead_of_creating_a_second(
    store: LeadStore, hubspot: HubSpotServer
) -> None:
    ids = crm(hubspot)
    before = len(hubspot.objects["companies"])
    store.import_rows("demo", [r for r in ROWS if "website" in r[1]][:5])
    report = await sync_hubspot(store, "demo")
    assert report.ok, report.errors
    # acme.com and globex.io were in the CRM: updated by id; three new ones created.
    assert (report.companies.created, report.companies.updated) == (3, 2)
    assert len(hubspot.objects["companies"]) == before + 3
    acme = next(r for r in hubspot.objects["companies"].values() if r["id"] == ids["acme"])
    assert acme["properties"]["name"] == "Acme Corp"
    updates = [r for r in hubspot.requests if r.path.endswith("/companies/batch/update")]
    assert {i["id"] for i in updates[0].json["inputs"]} == {ids["acme"], ids["globex"]}
    again = await sync_hubspot(store, "demo")
    assert again.companies.changed == 0 and len(hubspot.objects["companies"]) == before + 3
