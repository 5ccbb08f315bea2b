"""The HubSpot sync against a stand-in speaking HubSpot's batch APIs: upserts, 207s, pace, ids."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from lead_pipeline.crm import sync_hubspot
from lead_pipeline.crm.hubspot import HUBSPOT
from lead_pipeline.providers import NotConfigured
from lead_pipeline.store import LeadStore
from lead_pipeline_tests.servers import HUBSPOT_TOKEN, HubSpotServer, Reply


def person(name: str, email: str, title: str = "Co-Founder") -> dict[str, Any]:
    return {
        "name": name,
        "title": title,
        "email": email,
        "provider": "hunter",
        "confidence": 0.9,
        "source": "x",
        "verification": "valid",
    }


ROWS: dict[str, dict[str, Any]] = {
    "acme.com": {
        "name": "Acme",
        "website": "https://www.acme.com",
        "one_liner": "Anvils",
        "founder_emails": [
            person("Ada Lovelace", "ada@acme.com"),
            person("Bob Builder", "bob@acme.com", "CEO"),
        ],
    },
    "globex.io": {
        "name": "Globex",
        "website": "globex.io",
        "one_liner": "Chemicals",
        "founder_emails": [
            person("Grace Hopper", "grace@globex.io"),
            person("Mallory", "mallory@evil.com"),
        ],
    },  # another domain
    "nosite": {"name": "No Site", "website": None, "founder_emails": []},
}


def load(store: LeadStore, rows: dict[str, dict[str, Any]] = ROWS) -> None:
    store.import_rows("demo", list(rows.items()))


@pytest.fixture
def hubspot(monkeypatch: pytest.MonkeyPatch) -> Iterator[HubSpotServer]:
    monkeypatch.setenv("LEAD_PIPELINE_RETRY", '{"max_attempts": 3, "base_delay": 0.01}')
    with HubSpotServer() as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        yield server


async def test_first_sync_upserts_companies_and_contacts_and_associates_them(
    store: LeadStore, hubspot: HubSpotServer
) -> None:
    load(store)
    report = await sync_hubspot(store, "demo")
    assert report.ok, report.errors
    assert (report.companies.created, report.contacts.created, report.associated) == (2, 3, 3)
    assert set(hubspot.objects["companies"]) == {"acme.com", "globex.io"}
    assert set(hubspot.objects["contacts"]) == {"ada@acme.com", "bob@acme.com", "grace@globex.io"}
    acme = hubspot.objects["companies"]["acme.com"]
    assert acme["properties"] | {} == {
        "domain": "acme.com",
        "name": "Acme",
        "website": "https://www.acme.com",
        "description": "Anvils",
    }
    ada = hubspot.objects["contacts"]["ada@acme.com"]
    assert (ada["properties"]["firstname"], ada["properties"]["lastname"]) == ("Ada", "Lovelace")
    assert (ada["id"], acme["id"]) in hubspot.associations
    # First the CRM is asked whether it has these companies (crm/match.py), then they are sent.
    lookup, first = hubspot.requests[:2]
    assert lookup.path == "/crm/v3/objects/companies/search"
    # Not found: created (HubSpot keeps no company unique by domain, so no upsert by it).
    assert first.path == "/crm/v3/objects/companies/batch/create"
    assert first.headers["authorization"] == f"Bearer {HUBSPOT_TOKEN}"
    assert sorted(i["properties"]["domain"] for i in first.json["inputs"]) == [
        "acme.com",
        "globex.io",
    ]
    assert all("idProperty" not in i for i in first.json["inputs"])
    state = store.crm_state("demo", HUBSPOT)
    assert state[("companies", "acme.com")].crm_id == acme["id"]
    assert state[("contacts", "ada@acme.com")].row_id == "acme.com"
    assert "nosite: no website, so no company domain" in report.skipped
    assert "mallory@evil.com" not in hubspot.objects["contacts"]


async def test_a_resync_sends_only_what_changed(store: LeadStore, hubspot: HubSpotServer) -> None:
    load(store)
    await sync_hubspot(store, "demo")
    sent = len(hubspot.requests)
    again = await sync_hubspot(store, "demo")
    assert len(hubspot.requests) == sent  # nothing changed: not one request
    assert (again.companies.unchanged, again.contacts.unchanged) == (2, 3)
    changed = {**ROWS, "globex.io": {**ROWS["globex.io"], "one_liner": "Now: robots"}}
    load(store, changed)
    third = await sync_hubspot(store, "demo")
    (request,) = hubspot.requests[sent:]
    # Synced before: updated by its HubSpot id, never upserted into a second company.
    assert request.path == "/crm/v3/objects/companies/batch/update"
    globex_id = hubspot.objects["companies"]["globex.io"]["id"]
    assert [i["id"] for i in request.json["inputs"]] == [globex_id]
    assert (third.companies.updated, third.companies.unchanged) == (1, 1)
    assert hubspot.objects["companies"]["globex.io"]["properties"]["description"] == "Now: robots"


async def test_a_207_fails_only_the_refused_rows_and_a_resync_retries_them(
    store: LeadStore, hubspot: HubSpotServer
) -> None:
    load(store)
    hubspot.reject = {"globex.io": "Property values were not valid: domain"}
    report = await sync_hubspot(store, "demo")
    assert report.companies.created == 1 and report.companies.failed == 1
    assert any(
        "company globex.io: VALIDATION_ERROR: Property values were not valid" in e
        for e in report.errors
    )
    # Grace's contact exists, but with no company to join it is not recorded as synced.
    assert any("grace@globex.io: not associated" in e for e in report.errors)
    state = store.crm_state("demo", HUBSPOT)
    assert ("companies", "globex.io") not in state and ("contacts", "grace@globex.io") not in state
    hubspot.reject = {}
    sent = len(hubspot.requests)
    retry = await sync_hubspot(store, "demo")
    assert retry.ok and retry.companies.created == 1 and retry.contacts.changed == 1
    writes = [r for r in hubspot.requests[sent:] if r.path.endswith(("upsert", "create"))]
    assert [
        [i.get("id") or i["properties"]["domain"] for i in r.json["inputs"]] for r in writes
    ] == [
        ["globex.io"],
        ["grace@globex.io"],
    ]


async def test_an_answer_for_a_record_never_sent_is_not_attached(
    store: LeadStore, hubspot: HubSpotServer
) -> None:
    load(store, {"acme.com": ROWS["acme.com"]})
    hubspot.script(
        lambda r: hubspot.handle(r),  # the lookup: not in the CRM
        Reply(
            status=200,
            json={
                "status": "COMPLETE",
                "results": [{"id": "66", "properties": {"domain": "evil.com"}, "new": True}],
            },
        ),
    )
    report = await sync_hubspot(store, "demo")
    assert report.companies.failed == 1
    assert ("companies", "evil.com") not in store.crm_state("demo", HUBSPOT)
    assert ("companies", "acme.com") not in store.crm_state("demo", HUBSPOT)


async def test_a_failed_association_is_retried_next_time(
    store: LeadStore, hubspot: HubSpotServer
) -> None:
    load(store, {"acme.com": ROWS["acme.com"]})
    hubspot.script(
        lambda r: hubspot.handle(r),  # the lookup
        lambda r: hubspot.handle(r),
        lambda r: hubspot.handle(r),
        Reply(status=503, json={"status": "error", "message": "down"}),
        Reply(status=503, json={"status": "error", "message": "down"}),
        Reply(status=503, json={"status": "error", "message": "down"}),
    )
    report = await sync_hubspot(store, "demo")
    assert report.associated == 0 and len(report.errors) == 2
    assert ("contacts", "ada@acme.com") not in store.crm_state("demo", HUBSPOT)
    retry = await sync_hubspot(store, "demo")
    assert retry.ok and retry.associated == 2 and retry.contacts.updated == 2


async def test_the_pace_follows_hubspot_s_window_headers_and_429s_are_retried(
    store: LeadStore, hubspot: HubSpotServer
) -> None:
    hubspot.per_window, hubspot.window = 2, 0.5
    load(store)
    report = await sync_hubspot(store, "demo")
    assert report.ok, report.errors
    assert hubspot.throttled == 0  # "Remaining: 1" paused us for the window first
    hubspot.script(
        Reply(
            status=429,
            headers={"Retry-After": "0.05"},
            json={"status": "error", "policyName": "TEN_SECONDLY_ROLLING"},
        )
    )
    load(store, {**ROWS, "acme.com": {**ROWS["acme.com"], "one_liner": "More anvils"}})
    again = await sync_hubspot(store, "demo")
    assert again.ok and again.companies.updated == 1


async def test_dry_run_needs_no_token_sends_nothing_and_writes_nothing(
    store: LeadStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HUBSPOT_ACCESS_TOKEN", raising=False)
    load(store)
    report = await sync_hubspot(store, "demo", dry_run=True)
    assert [r["path"] for r in report.requests] == [
        "/crm/v3/objects/companies/batch/create",
        "/crm/v3/objects/contacts/batch/upsert",
        "/crm/v4/associations/contacts/companies/batch/associate/default",
    ]
    assert len(report.requests[1]["body"]["inputs"]) == 3
    assert store.crm_state("demo", HUBSPOT) == {}
    with pytest.raises(NotConfigured, match="HUBSPOT_ACCESS_TOKEN"):
        await sync_hubspot(store, "demo")


async def test_the_token_appears_nowhere_on_disk_even_when_echoed(
    store: LeadStore,
    db_url: str,
    hubspot: HubSpotServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    leaked = "pat-na1-LEAK-77aa88bb99cc"
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", leaked)  # the server echoes it in its 401
    load(store)
    report = await sync_hubspot(store, "demo")
    assert report.companies.failed == 2
    assert all(leaked not in e for e in report.errors)
    assert any("HUBSPOT_ACCESS_TOKEN" in e for e in report.errors)
    store.dispose()
    if db_url.startswith("sqlite"):
        written = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
        assert written and leaked.encode() not in written


HOSTILE_BATCHES = {
    '"errors": 5': (
        {"status": "COMPLETE", "results": [], "errors": 5},
        "hubspot: answer does not fit: errors: Input should be a valid list",
    ),
    "integer results": (
        {"status": "COMPLETE", "results": 5},
        "hubspot: answer does not fit: results: Input should be a valid list",
    ),
    "an id that is an object": (
        {"results": [{"id": {"$ne": 1}, "properties": {"domain": "acme.com"}, "new": True}]},
        "hubspot: answer does not fit: results[0].id: Input should be a valid string",
    ),
    "an id that is a number": (
        {"results": [{"id": 66, "properties": {"domain": "acme.com"}, "new": True}]},
        "hubspot: answer does not fit: results[0].id: Input should be a valid string",
    ),
    "an id that is a path": (
        {"results": [{"id": "../../66", "properties": {"domain": "acme.com"}}]},
        "hubspot: answer does not fit: results[0].id: String should match pattern",
    ),
}


@pytest.mark.parametrize("answer, message", HOSTILE_BATCHES.values(), ids=HOSTILE_BATCHES)
async def test_a_batch_answer_that_does_not_fit_fails_its_records_and_stores_nothing(
    store: LeadStore, hubspot: HubSpotServer, answer: dict[str, Any], message: str
) -> None:
    load(store, {"acme.com": ROWS["acme.com"]})
    hubspot.script(lambda r: hubspot.handle(r), Reply(json=answer))  # the lookup, then the upsert
    report = await sync_hubspot(store, "demo")
    assert report.companies.failed == 1
    assert any(error.endswith(message) or message in error for error in report.errors), report
    assert all("\n" not in error for error in report.errors)
    state = store.crm_state("demo", HUBSPOT)
    assert ("companies", "acme.com") not in state
    # The contacts were not associated with a company id HubSpot never gave.
    assert not hubspot.associations


async def test_an_association_answer_naming_an_object_id_is_not_a_confirmation(
    store: LeadStore, hubspot: HubSpotServer
) -> None:
    load(store, {"acme.com": ROWS["acme.com"]})
    hostile = {"status": "COMPLETE", "results": [{"from": {"id": {"a": 1}}, "to": [{"id": "1"}]}]}
    hubspot.script(
        lambda r: hubspot.handle(r),  # the lookup
        lambda r: hubspot.handle(r),  # companies
        lambda r: hubspot.handle(r),  # contacts
        Reply(json=hostile),
    )
    report = await sync_hubspot(store, "demo")
    assert report.associated == 0
    assert any("hubspot: answer does not fit: results[0].from.id" in e for e in report.errors)
    contacts = [k for k in store.crm_state("demo", HUBSPOT) if k[0] == "contacts"]
    assert contacts == []  # not recorded as synced: the next sync associates them
    again = await sync_hubspot(store, "demo")
    assert again.associated == 2 and again.ok


async def test_companies_are_never_upserted_by_domain_which_hubspot_does_not_keep_unique(
    store: LeadStore, hubspot: HubSpotServer
) -> None:
    """HubSpot's batch upsert needs an ``idProperty`` "whose values are unique for the
    object"; a company's domain is not one, and the stand-in refuses it as HubSpot does.
    The sync creates the companies it looked for and did not find (``batch/create``),
    updates the one the portal has by its id, and upserts contacts by email (unique)."""
    async with httpx2.AsyncClient() as client:
        refused = await client.post(
            hubspot.url("/crm/v3/objects/companies/batch/upsert"),
            headers={"Authorization": f"Bearer {HUBSPOT_TOKEN}"},
            json={"inputs": [{"idProperty": "domain", "id": "acme.com", "properties": {}}]},
        )
    assert refused.status_code == 400 and "not a unique property" in refused.text
    globex_id = hubspot.add_company(name="Globex", domain="globex.io")
    load(store)
    report = await sync_hubspot(store, "demo")
    assert report.ok, report.errors
    assert (report.companies.created, report.companies.updated) == (1, 1)
    paths = [r.path for r in hubspot.requests[1:]]
    assert "/crm/v3/objects/companies/batch/upsert" not in paths
    [create] = [r for r in hubspot.requests if r.path.endswith("/companies/batch/create")]
    assert [i["properties"]["domain"] for i in create.json["inputs"]] == ["acme.com"]
    assert hubspot.objects["companies"]["globex.io"]["id"] == globex_id  # not a second one
    assert len(hubspot.objects["companies"]) == 2
    assert store.crm_state("demo", HUBSPOT)[("companies", "globex.io")].crm_id == globex_id
    # A second sync after a change updates by id: nothing is created twice.
    load(store, {**ROWS, "acme.com": {**ROWS["acme.com"], "one_liner": "More anvils"}})
    again = await sync_hubspot(store, "demo")
    assert again.ok and (again.companies.created, again.companies.updated) == (0, 1)
    assert len(hubspot.objects["companies"]) == 2
