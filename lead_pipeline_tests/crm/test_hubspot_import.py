"""``import hubspot`` against a stand-in speaking HubSpot's search, lists and batch-read APIs."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lead_pipeline.cli import main
from lead_pipeline.crm.hubspot_source import CompanySelection, import_hubspot, parse_filter
from lead_pipeline.leads.errors import LeadFileError
from lead_pipeline.settings import reset_settings
from lead_pipeline.store import LeadStore
from lead_pipeline_tests.servers import HubSpotServer, RecordedRequest, Reply

FAST = {"hubspot": {"requests_per_second": 500}, "hubspot_search": {"requests_per_second": 500}}


@pytest.fixture
def hubspot(monkeypatch: pytest.MonkeyPatch) -> Iterator[HubSpotServer]:
    monkeypatch.setenv("LEAD_PIPELINE_RETRY", '{"max_attempts": 3, "base_delay": 0.01}')
    monkeypatch.setenv("LEAD_PIPELINE_RATE_LIMITS", json.dumps(FAST))
    with HubSpotServer(per_window=100_000, search_per_second=1000) as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        reset_settings()
        yield server
    reset_settings()


def portal(server: HubSpotServer, count: int, **extra: str) -> list[str]:
    return [
        server.add_company(
            name=f"Company {i}",
            domain=f"company{i}.com",
            description=f"Makes thing {i}",
            lifecyclestage="customer" if i % 50 else "lead",
            numberofemployees=str(10 + i),
            **extra,
        )
        for i in range(count)
    ]


def rows(store: LeadStore, name: str = "crm") -> dict[str, dict[str, object]]:
    return {r.row_id: r.fields for r in store.rows(name)}


async def test_ten_thousand_companies_by_filter_cross_the_search_cap(
    store: LeadStore, hubspot: HubSpotServer
) -> None:
    ids = portal(hubspot, 10_400)
    customers = [i for n, i in enumerate(ids) if n % 50]  # 10,192 of them
    selection = CompanySelection(filters=("lifecyclestage=customer",))
    report = await import_hubspot(store, "crm", selection)
    assert (report.added, report.updated, report.unchanged) == (len(customers), 0, 0)
    stored = rows(store)
    assert sorted(stored, key=int) == customers  # every one, once, keyed by HubSpot's id
    first = stored[customers[0]]
    assert first["hs_object_id"] == customers[0] and first["domain"] == "company1.com"
    assert "hs_lastmodifieddate" not in first and "createdate" not in first
    searches = [r for r in hubspot.requests if r.path.endswith("/search")]
    assert all(r.json["limit"] <= 200 for r in searches)
    # Past 10,000 results the second query starts after the last id the first one gave.
    restart = [r for r in searches if any(len(g["filters"]) == 2 for g in r.json["filterGroups"])]
    assert restart and restart[0].json["filterGroups"][0]["filters"][1]["operator"] == "GT"
    assert any("2 search queries" in note for note in report.notes)
    mapping = store.field_mapping("crm")[1]
    assert mapping["website"] == "domain" and mapping["name"] == "name"
    assert store.list_info("crm").source == "hubspot:filter=lifecyclestage%3Dcustomer"  # type: ignore[union-attr]

    again = await import_hubspot(store, "crm", selection)
    assert (again.added, again.updated, again.unchanged) == (0, 0, len(customers))


async def test_a_hubspot_list_is_read_by_memberships_then_batch_read(
    store: LeadStore, hubspot: HubSpotServer
) -> None:
    ids = portal(hubspot, 300)
    hubspot.lists["42"] = [*ids[:260], "999999"]  # one member deleted since
    report = await import_hubspot(store, "crm", CompanySelection(list_id="42"))
    assert report.added == 260
    assert set(rows(store)) == set(ids[:260])
    reads = [r for r in hubspot.requests if r.path.endswith("/batch/read")]
    assert reads and all(len(r.json["inputs"]) <= 100 for r in reads)
    assert [r.param("limit") for r in hubspot.requests if "memberships" in r.path] == ["250", "250"]
    assert any("1 list member(s) no longer exist" in note for note in report.notes)


async def test_every_company_pages_the_objects_endpoint_and_honours_429s(
    store: LeadStore, hubspot: HubSpotServer
) -> None:
    portal(hubspot, 250)
    # The burst bucket: two requests per 0.2 s. X-HubSpot-RateLimit-Remaining reaching 1
    # pauses the reader for the window, so the bucket never overflows ...
    hubspot.per_window = 2
    hubspot.window = 0.2
    report = await import_hubspot(store, "crm", CompanySelection())
    assert report.added == 250 and hubspot.throttled == 0
    # ... and a 429 with Retry-After (another app of the portal spent it) is waited out.
    hubspot.per_window = 100_000
    hubspot.script(
        Reply(
            status=429,
            headers={"Retry-After": "0", "X-HubSpot-RateLimit-Remaining": "0"},
            json={"status": "error", "policyName": "TEN_SECONDLY_ROLLING"},
        )
    )
    again = await import_hubspot(store, "crm", CompanySelection())
    assert again.unchanged == 250
    pages = [r for r in hubspot.requests if r.path == "/crm/v3/objects/companies"]
    assert {r.param("limit") for r in pages} == {"100"}


async def test_a_429_storm_leaves_the_list_as_it_was_and_it_can_run_again(
    store: LeadStore, hubspot: HubSpotServer
) -> None:
    ids = portal(hubspot, 450)
    selection = CompanySelection(filters=("numberofemployees>=0",))
    await import_hubspot(store, "crm", selection)
    before = rows(store)
    for record_id in ids[:3]:
        hubspot.update_company(record_id, description="changed")
    hubspot.add_company(name="Newco", domain="newco.com", numberofemployees="5")
    hubspot.throttle_from = len(hubspot.requests) + 2  # the second page on: 429s
    with pytest.raises(LeadFileError) as caught:
        await import_hubspot(store, "crm", selection)
    message = str(caught.value)
    assert "rate limited (HTTP 429)" in message and "nothing was imported" in message
    assert "\n" not in message
    assert rows(store) == before  # not one of the changes, nor the new company
    hubspot.throttle_from = None
    report = await import_hubspot(store, "crm", selection)
    assert (report.added, report.updated) == (1, 3)


async def test_mapping_overrides_and_hostile_selections(
    store: LeadStore, hubspot: HubSpotServer
) -> None:
    hubspot.add_company(name="Acme", domain="acme.com", legal_name="Acme Anvils Inc.")
    await import_hubspot(
        store, "crm", CompanySelection(), field_map={"name": "legal_name", "country": None}
    )
    canonical = store.mapped_rows("crm")[0].fields
    assert canonical["name"] == "Acme Anvils Inc." and canonical["country"] is None
    # The choice is kept by the next import, as for files.
    await import_hubspot(store, "crm", CompanySelection())
    assert store.field_mapping("crm")[1]["name"] == "legal_name"
    with pytest.raises(ValueError, match="a HubSpot list id is a number"):
        CompanySelection(list_id="42; DROP")
    with pytest.raises(ValueError, match="write PROPERTY=VALUE"):
        parse_filter("lifecyclestage")
    with pytest.raises(ValueError, match="not both"):
        CompanySelection(list_id="1", filters=("a=b",))
    assert parse_filter("domain!=*") == {"propertyName": "domain", "operator": "NOT_HAS_PROPERTY"}
    assert parse_filter("numberofemployees>=50")["operator"] == "GTE"
    with pytest.raises(LeadFileError, match="List does not exist with ID 7"):
        await import_hubspot(store, "crm", CompanySelection(list_id="7"))


def test_a_file_list_is_not_re_keyed_from_hubspot(
    capsys: pytest.CaptureFixture[str], hubspot: HubSpotServer, tmp_path: Path
) -> None:
    path = tmp_path / "leads.csv"
    path.write_text("name,website\nAcme,acme.com\n")
    assert main(["import", str(path), "--lead", "crm"]) == 0
    capsys.readouterr()
    assert main(["import", "hubspot", "--lead", "crm"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: every HubSpot company: lead list 'crm' takes its ids from")
    assert main(["import", "hubspot", "--lead", "other", "--delimiter", "tab"]) == 2
    assert "--delimiter: only for files" in capsys.readouterr().err
    assert main(["import", str(path), "--lead", "other", "--filter", "a=b"]) == 2
    assert "--filter: only for `lead-pipeline import hubspot`" in capsys.readouterr().err


def test_the_command_reports_like_a_file_import_and_needs_a_token(
    capsys: pytest.CaptureFixture[str], hubspot: HubSpotServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    portal(hubspot, 60)
    code = main(["import", "hubspot", "--lead", "crm", "--filter", "lifecyclestage=lead"])
    out = " ".join(capsys.readouterr().out.split())
    assert code == 0, out
    assert "imported HubSpot companies where lifecyclestage=lead into lead list 'crm'" in out
    assert "website <- domain" in out and "ids: column 'hs_object_id'" in out
    monkeypatch.delenv("HUBSPOT_ACCESS_TOKEN")
    reset_settings()
    assert main(["import", "hubspot", "--lead", "crm"]) == 2
    assert "HUBSPOT_ACCESS_TOKEN" in capsys.readouterr().err


# ---- kill -9 in the middle, and the re-import that re-enriches only what changed ----------

IMPORT = """
import sys
from lead_pipeline.cli import main
sys.exit(main(sys.argv[1:]))
"""

WORKFLOW = """\
name: described
nodes:
  - id: measure
    type: expression
    values: {description_words: "len(description)"}
    outputs: {description_words: integer}
"""


def counts(out: str) -> tuple[int, ...]:
    """The import table's row: added, updated, unchanged, pruned, rows in HubSpot."""
    found = re.search(r"│\s*(\d+)\s*│\s*(\d+)\s*│\s*(\d+)\s*│\s*(\d+)\s*│\s*(\d+)\s*│", out)
    assert found, out
    return tuple(int(n) for n in found.groups())


def cli(*args: str, check: bool = True) -> str:
    done = subprocess.run(
        [sys.executable, "-c", IMPORT, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "300"},
        timeout=300,
    )
    out = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 0 or not check, out
    return out


@pytest.mark.slow
def test_kill_9_mid_import_then_a_reimport_re_enriches_exactly_the_changed_five(
    hubspot: HubSpotServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "wf").mkdir()
    (tmp_path / "wf" / "described.yaml").write_text(WORKFLOW)
    monkeypatch.setenv("LEAD_PIPELINE_WORKFLOWS", str(tmp_path / "wf"))
    reset_settings()
    ids = portal(hubspot, 250)  # three pages of 100
    assert counts(cli("import", "hubspot", "--lead", "crm")) == (250, 0, 0, 0, 250)
    assert "done: 250 ok, 0 failed" in cli("enrich", "--lead", "crm", "--workflow", "described")
    store = LeadStore()
    before = {r.row_id: r.fields for r in store.rows("crm")}

    changed = ids[3:8]
    for record_id in changed:
        hubspot.update_company(record_id, description="A new description")
    # A slow portal, and kill -9 once the import has read a page and waits on the next.
    hubspot.latency = 0.3
    process = subprocess.Popen(
        [sys.executable, "-c", IMPORT, "import", "hubspot", "--lead", "crm"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    answered = hubspot.completed
    try:
        while hubspot.completed < answered + 1:
            assert process.poll() is None, "the import ended before it could be killed"
            time.sleep(0.02)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert {r.row_id: r.fields for r in store.rows("crm")} == before
    hubspot.latency = 0.0

    out = cli("import", "hubspot", "--lead", "crm")
    assert counts(out) == (0, 5, 245, 0, 250)
    plan = cli("enrich", "--lead", "crm", "--workflow", "described", "--plan")
    assert "described: 5 of 250 rows to process (5 stale); 245 up to date" in plan, plan
    assert "done: 5 ok, 0 failed" in cli("enrich", "--lead", "crm", "--workflow", "described")
    store.dispose()


def test_the_hubspot_lists_sensor_refreshes_a_crm_list_and_runs_only_when_it_changed(
    hubspot: HubSpotServer,
) -> None:
    import dagster as dg

    from lead_pipeline.defs.crm_sensor import CRM_SENSOR_NAME
    from lead_pipeline.defs.definitions import build_definitions
    from lead_pipeline.defs.partitions import instance
    from lead_pipeline.defs.resources import LeadStoreResource

    sensor = build_definitions().resolve_sensor_def(CRM_SENSOR_NAME)
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED

    def tick(cursor: str | None = None) -> dg.SensorResult:
        context = dg.build_sensor_context(
            instance=instance(), cursor=cursor, resources={"store": LeadStoreResource()}
        )
        result = sensor(context)
        assert isinstance(result, dg.SensorResult)
        return result

    assert "no lead list was imported from HubSpot" in str(tick().skip_reason)
    ids = portal(hubspot, 30)
    assert main(["import", "hubspot", "--lead", "crm", "--filter", "lifecyclestage=customer"]) == 0
    quiet = tick()
    assert not quiet.run_requests
    assert "29 companies, none changed" in str(quiet.skip_reason)
    hubspot.update_company(ids[1], description="pivoted")
    hubspot.add_company(name="Lead Co", domain="lead.co", lifecyclestage="lead")  # not selected
    changed = tick()
    (request,) = changed.run_requests or []
    assert request.partition_key == "crm"
    assert LeadStore().rows("crm", [ids[1]])[0].fields["description"] == "pivoted"
    assert len(LeadStore().rows("crm")) == 29


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        ({"results": {"id": "1"}}, "results: Input should be a valid list"),
        ({"results": [{"id": {"$ne": 1}, "properties": {}}]}, "results[0].id"),
        ({"results": [{"id": "12", "properties": {"name": 5}}]}, "results[0].properties.name"),
        ({"status": "error", "message": "oops"}, "results: Field required"),
    ],
)
async def test_an_answer_that_does_not_fit_fails_the_import_in_one_line(
    store: LeadStore, hubspot: HubSpotServer, answer: dict[str, object], says: str
) -> None:
    portal(hubspot, 120)
    await import_hubspot(store, "crm", CompanySelection())
    before = rows(store)
    hubspot.script(lambda r: hubspot.handle(r), Reply(json=answer))  # the second page
    with pytest.raises(LeadFileError) as caught:
        await import_hubspot(store, "crm", CompanySelection())
    message = str(caught.value)
    assert "hubspot: answer does not fit" in message and says in message, message
    assert "\n" not in message and rows(store) == before


async def test_a_batch_read_naming_a_record_never_asked_for_is_not_imported(
    store: LeadStore, hubspot: HubSpotServer
) -> None:
    ids = portal(hubspot, 3)
    hubspot.lists["9"] = ids
    planted = {"id": "666", "properties": {"name": "Planted", "domain": "evil.com"}}

    def with_a_stranger(request: RecordedRequest) -> Reply:
        reply = hubspot.handle(request)
        return Reply(json={**reply.json, "results": [*reply.json["results"], planted]})

    hubspot.script(lambda r: hubspot.handle(r), with_a_stranger)  # memberships, then the read
    report = await import_hubspot(store, "crm", CompanySelection(list_id="9"))
    assert report.added == 3 and set(rows(store)) == set(ids)
