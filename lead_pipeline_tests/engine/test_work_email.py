"""The built-in founder_email workflow over the three finder stand-ins, hostile answers included."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from lead_pipeline.engine.compile import CompiledWorkflow
from lead_pipeline.engine.registry import NotConfigured, registry
from lead_pipeline.store import FAILED, OK, LeadStore
from lead_pipeline.workflows.loader import BUILTIN_DIR, load_workflows
from lead_pipeline_tests.engine.test_runner import materialize
from lead_pipeline_tests.servers import ApolloServer, HunterServer, PdlServer, Reply

FINDER_VARS = [f"{p}_{v}" for p in ("HUNTER", "APOLLO", "PDL") for v in ("API_KEY", "BASE_URL")]


def founders(*names: str) -> list[dict[str, Any]]:
    return [
        {
            "name": n,
            "title": "Co-Founder",
            "linkedin_url": f"https://www.linkedin.com/in/{n.split()[0].lower()}",
        }
        for n in names
    ]


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in FINDER_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LEAD_PIPELINE_RETRY", '{"max_attempts": 2, "base_delay": 0.01}')


@pytest.fixture
def servers(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[HunterServer, ApolloServer, PdlServer]]:
    with HunterServer() as hunter, ApolloServer() as apollo, PdlServer() as pdl:
        for server in (hunter, apollo, pdl):
            for name, value in server.env().items():
                monkeypatch.setenv(name, value)
        yield hunter, apollo, pdl


@pytest.fixture
def workflow() -> CompiledWorkflow:
    return {
        w.name: w for w in load_workflows([], builtin_dirs=[BUILTIN_DIR], node_types=registry())
    }["founder_email"]


def leads(store: LeadStore, rows: dict[str, dict[str, Any]]) -> LeadStore:
    store.import_rows(
        "demo",
        [
            (
                rid,
                {
                    "name": r.get("name", rid),
                    "website": r.get("website"),
                    "founders": r.get("founders", []),
                    "founder_count": len(r.get("founders", [])),
                },
            )
            for rid, r in rows.items()
        ],
    )
    return store


def emails(store: LeadStore) -> dict[str, Any]:
    frame = store.wide_frame("demo").set_index("_id")
    return {rid: frame.loc[rid, "founder_emails"] for rid in frame.index}


def test_waterfall_finds_each_founder_at_the_first_finder_that_knows(
    store: LeadStore, workflow: CompiledWorkflow, servers
) -> None:
    hunter, apollo, pdl = servers
    hunter.people = {
        ("ada lovelace", "acme.com"): {"email": "ada@acme.com", "score": 96, "verified": True}
    }
    apollo.people = {
        ("charles babbage", "acme.com"): {"email": "charles@acme.com", "verified": True}
    }
    pdl.people = {("grace hopper", "globex.io"): {"email": "grace@globex.io", "likelihood": 9}}
    leads(
        store,
        {
            "acme.com": {
                "name": "Acme",
                "website": "https://www.acme.com",
                "founders": founders("Ada Lovelace", "Charles Babbage"),
            },
            "globex.io": {
                "name": "Globex",
                "website": "globex.io",
                "founders": founders("Grace Hopper"),
            },
            "nobody.dev": {
                "name": "Nobody",
                "website": "nobody.dev",
                "founders": founders("No One"),
            },
            "solo.dev": {"name": "Solo", "website": "solo.dev", "founders": []},
        },
    )
    summary = materialize(store, workflow, parallel=2)
    assert (summary.ok, summary.failed, summary.not_eligible) == (3, 0, 1)
    found = emails(store)
    acme = {e["name"]: e for e in found["acme.com"]}
    assert acme["Ada Lovelace"]["email"] == "ada@acme.com"
    assert acme["Ada Lovelace"]["provider"] == "hunter"
    assert acme["Ada Lovelace"]["confidence"] == 0.96
    assert acme["Ada Lovelace"]["source"] == "https://acme.com/team"
    assert acme["Ada Lovelace"]["verification"] == "valid"
    assert acme["Charles Babbage"]["provider"] == "apollo"
    (grace,) = found["globex.io"]
    assert (grace["email"], grace["provider"], grace["confidence"]) == (
        "grace@globex.io",
        "pdl",
        0.9,
    )
    assert found["nobody.dev"] == []
    # No match costs nothing; only the three matches and the PDL verification are charged.
    results = store.results("demo", ["founder_email"])
    assert results["nobody.dev"][("founder_email", "find")].cost == 0.0
    assert results["nobody.dev"][("founder_email", "find")].status == OK
    # Hunter's own "valid" and Apollo's "verified" are not verified again; PDL's answer is.
    assert hunter.count("/v2/email-verifier") == 1
    assert results["globex.io"][("founder_email", "find")].cost == pytest.approx(0.28 + 0.01225)


def test_an_email_at_another_company_or_malformed_is_refused(
    store: LeadStore, workflow: CompiledWorkflow, servers
) -> None:
    hunter, apollo, pdl = servers
    key = ("ada lovelace", "acme.com")
    hunter.people = {key: {"email": "ada@globex.com", "score": 99}}  # another company
    apollo.people = {key: {"email": "email_not_unlocked@domain.com"}}  # Apollo's placeholder
    pdl.people = {key: {"email": "ada lovelace@acme.com"}}  # not an address
    leads(
        store,
        {"acme.com": {"name": "Acme", "website": "acme.com", "founders": founders("Ada Lovelace")}},
    )
    summary = materialize(store, workflow)
    assert summary.ok == 1
    assert emails(store)["acme.com"] == []
    assert (hunter.count("/v2/email-finder"), apollo.count(), pdl.count()) == (1, 1, 1)


def test_a_shared_host_tenant_is_not_the_company(
    store: LeadStore, workflow: CompiledWorkflow, servers
) -> None:
    hunter, _, _ = servers
    hunter.people = {("ada lovelace", "acme.vercel.app"): {"email": "ada@other.vercel.app"}}
    leads(
        store,
        {
            "acme": {
                "name": "Acme",
                "website": "https://acme.vercel.app",
                "founders": founders("Ada Lovelace"),
            }
        },
    )
    materialize(store, workflow)
    assert emails(store)["acme"] == []


def test_the_verifier_refuses_an_invalid_address_and_the_next_finder_answers(
    store: LeadStore, workflow: CompiledWorkflow, servers
) -> None:
    hunter, apollo, _ = servers
    key = ("ada lovelace", "acme.com")
    hunter.people = {key: {"email": "a.lovelace@acme.com", "score": 60}}
    hunter.verdicts = {"a.lovelace@acme.com": "invalid"}
    apollo.people = {key: {"email": "ada@acme.com", "verified": True}}
    leads(
        store,
        {"acme.com": {"name": "Acme", "website": "acme.com", "founders": founders("Ada Lovelace")}},
    )
    materialize(store, workflow)
    (ada,) = emails(store)["acme.com"]
    assert (ada["email"], ada["provider"]) == ("ada@acme.com", "apollo")


def test_every_finder_failing_fails_the_row_and_a_rerun_pays_nothing_twice(
    store: LeadStore, workflow: CompiledWorkflow, servers
) -> None:
    hunter, apollo, pdl = servers
    hunter.people = {("ada lovelace", "acme.com"): {"email": "ada@acme.com", "verified": True}}
    leads(
        store,
        {
            "acme.com": {
                "name": "Acme",
                "website": "acme.com",
                "founders": founders("Ada Lovelace", "Bob Builder"),
            }
        },
    )
    # Ada is found; for Bob every finder is down.
    down = Reply(status=503, json={"error": {"message": "down"}})
    hunter.script(lambda r: hunter.handle(r), down, down)
    apollo.script(down, down)
    pdl.script(down, down)
    first = materialize(store, workflow)
    assert first.failed == 1
    result = store.results("demo", ["founder_email"])["acme.com"][("founder_email", "find")]
    assert result.status == FAILED and "Bob Builder" in (result.error or "")
    second = materialize(store, workflow)
    assert second.ok == 1
    assert [e["name"] for e in emails(store)["acme.com"]] == ["Ada Lovelace"]
    assert hunter.matches == 1  # Ada's answer came from the cache the second time


def test_without_any_finder_key_the_workflow_says_which_variables_to_set(
    workflow: CompiledWorkflow,
) -> None:
    with pytest.raises(NotConfigured) as caught:
        workflow.preflight()
    assert str(caught.value) == (
        "work email lookup is not configured: set HUNTER_API_KEY or APOLLO_API_KEY or PDL_API_KEY"
    )


def test_finder_keys_appear_nowhere_on_disk(
    store: LeadStore,
    db_url: str,
    workflow: CompiledWorkflow,
    servers,
    tmp_path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Hunter echoes a wrong key in its 401; Apollo and PDL fail too: nothing keeps a key."""
    _, apollo, _ = servers
    keys = {
        "HUNTER_API_KEY": "hunter-LEAK-5f1e2d3c4b",
        "APOLLO_API_KEY": "apollo-LEAK-9a8b7c6d5e",
        "PDL_API_KEY": "pdl-LEAK-0f1e2d3c4b5a",
    }
    for name, value in keys.items():
        monkeypatch.setenv(name, value)
    apollo.script(
        Reply(status=500, json={"error": f"key {keys['APOLLO_API_KEY']} broke us"}),
        Reply(status=500, json={"error": f"key {keys['APOLLO_API_KEY']} broke us"}),
    )
    leads(
        store,
        {"acme.com": {"name": "Acme", "website": "acme.com", "founders": founders("Ada Lovelace")}},
    )
    summary = materialize(store, workflow)
    assert summary.failed == 1
    result = store.results("demo", ["founder_email"])["acme.com"][("founder_email", "find")]
    assert "HUNTER_API_KEY" in (result.error or "")
    store.dispose()
    written = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    if db_url.startswith("sqlite"):
        assert written  # the store's files (PostgreSQL keeps its own; errors are checked here)
    for value in keys.values():
        assert value.encode() not in written
        assert value not in (result.error or "")


def test_a_hostile_finder_answer_fails_only_that_finder_and_its_cost_is_kept(
    store: LeadStore, workflow: CompiledWorkflow, servers
) -> None:
    hunter, apollo, _ = servers
    ada, bob = ("ada lovelace", "acme.com"), ("bob builder", "acme.com")
    # Hunter's answer for Ada does not fit (a score as text): it is charged, never stored
    # with a null confidence, and Apollo is asked next.
    hunter.people = {ada: {"email": "ada@acme.com", "score": "5"}, bob: {"email": "bob@acme.com"}}
    apollo.people = {ada: {"email": "ada@acme.com", "verified": True}}
    leads(
        store,
        {
            "acme.com": {
                "name": "Acme",
                "website": "acme.com",
                "founders": founders("Ada Lovelace", "Bob Builder"),
            }
        },
    )
    summary = materialize(store, workflow)
    assert (summary.ok, summary.failed) == (1, 0)
    found = {e["name"]: e for e in emails(store)["acme.com"]}
    assert found["Ada Lovelace"]["provider"] == "apollo"
    assert found["Ada Lovelace"]["confidence"] == 0.95
    assert found["Bob Builder"]["provider"] == "hunter"  # the other founder is untouched
    result = store.results("demo", ["founder_email"])["acme.com"][("founder_email", "find")]
    # Hunter's two searches (the bad one was paid too), Apollo's match, one verification.
    assert result.cost == pytest.approx(2 * 0.0245 + 0.20 + 0.01225)


MIN_CONFIDENCE = """\
name: sure_emails
nodes:
  - id: find
    type: work_email
    founders: founders
    providers: [apollo]
    min_confidence: 0.9
    outputs:
      sure_emails: array
"""


def test_an_unknown_confidence_does_not_pass_a_min_confidence(
    store: LeadStore, servers, tmp_path
) -> None:
    _, apollo, _ = servers
    apollo.people = {
        ("ada lovelace", "acme.com"): {"email": "ada@acme.com", "verified": True},  # 0.95
        ("bob builder", "acme.com"): {"email": "bob@acme.com"},  # "extrapolated": 0.5
    }
    (tmp_path / "sure_emails.yaml").write_text(MIN_CONFIDENCE)
    sure = {w.name: w for w in load_workflows([tmp_path], builtin_dirs=[], node_types=registry())}[
        "sure_emails"
    ]
    leads(
        store,
        {
            "acme.com": {
                "name": "Acme",
                "website": "acme.com",
                "founders": founders("Ada Lovelace", "Bob Builder"),
            }
        },
    )
    # Ada's answer has no email_status, so no confidence: it cannot pass 0.9.
    apollo.script(Reply(json={"person": {"id": "1", "email": "ada@acme.com"}}))
    materialize(store, sure)
    frame = store.wide_frame("demo").set_index("_id")
    assert frame.loc["acme.com", "sure_emails"] == []


def test_an_address_at_an_internationalised_domain_is_the_company_s(
    store: LeadStore, workflow: CompiledWorkflow, servers
) -> None:
    # The finder answers in Unicode or punycode; the website cell is Unicode. Both pass
    # the gate (they used to be refused: the address came back as punycode).
    hunter, apollo, _ = servers
    hunter.people = {("ada lovelace", "bücher.de"): {"email": "ada@bücher.de", "score": 96}}
    apollo.people = {("alan turing", "bücher.de"): {"email": "alan@xn--bcher-kva.de"}}
    leads(
        store,
        {
            "bücher.de": {
                "name": "Bücher",
                "website": "https://bücher.de",
                "founders": founders("Ada Lovelace", "Alan Turing"),
            }
        },
    )
    assert materialize(store, workflow).ok == 1
    found = {e["name"]: (e["email"], e["provider"]) for e in emails(store)["bücher.de"]}
    assert found == {
        "Ada Lovelace": ("ada@xn--bcher-kva.de", "hunter"),
        "Alan Turing": ("alan@xn--bcher-kva.de", "apollo"),
    }
