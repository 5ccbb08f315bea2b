"""No key leaves the process, whole or in part, by any path a user's commands write to.

Every provider family gets a distinctive key (OpenAI, Anthropic, Serper, Brave, Hunter,
Apollo, People Data Labs, HubSpot, and an ``http`` node's two secret headers), and every
stand-in echoes the key it was sent back through its error paths: a 401 body, a 5xx body, a
4xx with the key in a response header and cut, upper-cased, base64- and URL-encoded in the
body, a redirect whose Location carries it, and for HubSpot a 207 whose per-record errors
quote the token. Then the commands a user runs (``enrich``, ``sync hubspot`` three times,
``errors``, ``errors --by-cause``, ``export --errors``, ``status``) run in subprocesses,
and every place text was written is searched for each key and for every run of 8 of its
characters, in any case, plain and base64-encoded: each command's stdout and stderr, every
file under the data folder (the SQLite store, all its tables, and its journal; the Dagster
home with its event log database and compute logs; ``data/logs``; the exports).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest

from lead_pipeline.store import LeadStore
from lead_pipeline_tests.reliability.harness import cli_env, trusted, write_workflow
from lead_pipeline_tests.servers import (
    AnthropicServer,
    ApolloServer,
    BraveServer,
    HubSpotServer,
    HunterServer,
    OpenAIServer,
    PdlServer,
    RecordedRequest,
    Reply,
    SerperServer,
    StubServer,
)

pytestmark = pytest.mark.slow(minutes=2)

KEYS = {
    "OPENAI_API_KEY": "sk-proof-0penai-7c1e9a3f5b2d4086",
    "ANTHROPIC_API_KEY": "sk-ant-proof-4e8b2c6a1d9f3057",
    "SERPER_API_KEY": "serper-proof-3a7f1c9e5b2d8046",
    "BRAVE_API_KEY": "brave-proof-9d2b6f4a8c1e5037",
    "HUNTER_API_KEY": "hunter-proof-5f3d7b1a9e2c6048",
    "APOLLO_API_KEY": "apollo-proof-2c8e4a6f1b3d9075",
    "PDL_API_KEY": "pdl-proof-8a4c2e6b9f1d3057",
    "HUBSPOT_ACCESS_TOKEN": "pat-na1-proof-6b2f8d4a1c9e3075",
    "ACME_CLIENT_ID": "acme-proof-id-1e7c3a9f5d2b8046",
    "ACME_CLIENT_KEY": "acme-proof-key-4a9d1f7b3e5c2068",
}

WORKFLOW = """\
name: leaky
nodes:
  - id: openai
    type: llm
    backend: openai
    when: "kind == 'openai'"
    prompt: "Describe {{{{ name }}}}"
    outputs: {{summary_openai: string}}
  - id: anthropic
    type: llm
    backend: anthropic
    when: "kind == 'anthropic'"
    prompt: "Describe {{{{ name }}}}"
    outputs: {{summary_anthropic: string}}
  - id: serper
    type: web_search
    providers: [serper]
    when: "kind == 'serper'"
    query: "{{{{ name }}}} founders"
    outputs: {{serper_results: array}}
  - id: brave
    type: web_search
    providers: [brave]
    when: "kind == 'brave'"
    query: "{{{{ name }}}} founders"
    outputs: {{brave_results: array}}
  - id: hunter
    type: work_email
    providers: [hunter]
    founders: people
    verify: never
    when: "kind == 'hunter'"
    outputs: {{hunter_emails: array}}
  - id: apollo
    type: work_email
    providers: [apollo]
    founders: people
    verify: never
    when: "kind == 'apollo'"
    outputs: {{apollo_emails: array}}
  - id: pdl
    type: work_email
    providers: [pdl]
    founders: people
    verify: never
    when: "kind == 'pdl'"
    outputs: {{pdl_emails: array}}
  - id: api
    type: http
    when: "kind == 'api'"
    url: "{base}/lookup"
    params: {{row: "{{{{ _id }}}}"}}
    secret_headers: {{X-Client-Id: ACME_CLIENT_ID, X-Client-Key: ACME_CLIENT_KEY}}
    extract: {{size: "size"}}
    outputs: {{size: integer}}
"""

FAMILIES = ("openai", "anthropic", "serper", "brave", "hunter", "apollo", "pdl", "api")


def echoes(key: str) -> list[Callable[[RecordedRequest], Reply]]:
    """A careless provider's error answers, each quoting ``key`` back in its own way."""
    basic = base64.b64encode(f"user:{key}".encode()).decode()
    shapes = [
        Reply(status=401, json={"error": {"message": f"Incorrect API key provided: {key}"}}),
        Reply(status=503, body=f"upstream failed for key={key}"),
        Reply(
            status=400,
            headers={"X-Debug-Key": key, "WWW-Authenticate": f"Basic {basic}"},
            json={
                "message": f"bad key {key.upper()} ({quote(key)}), Basic {basic}, "
                f"{key[:10]}... was cut",
            },
        ),
        Reply(
            status=302,
            headers={"Location": f"https://login.example.invalid/?api_key={key}"},
            body=f"moved: sign in again with {key}",
        ),
    ]
    return [lambda _request, reply=reply: reply for reply in shapes]


class EchoingApi(StubServer):
    """An ``http`` node's API: every answer an error that quotes both credentials."""

    def handle(self, request: RecordedRequest) -> Reply:
        sent = f"{request.headers.get('x-client-id')} / {request.headers.get('x-client-key')}"
        return Reply(status=403, json={"error": f"credentials {sent} are not allowed"})


def rows() -> list[tuple[str, dict[str, object]]]:
    founders = [{"name": "Ada Lovelace", "linkedin_url": "https://www.linkedin.com/in/ada"}]
    return [
        (
            f"{family}-{i}",
            {
                "name": f"{family.title()} Co {i}",
                "website": f"https://{family}{i}.io",
                "kind": family,
                "people": founders,
            },
        )
        for family in FAMILIES
        for i in range(4)
    ]


def _pieces(secret: str) -> set[str]:
    """Every 8-character run of ``secret`` and of its base64 forms, lower-cased."""
    forms = [secret] + [
        base64.b64encode((":" * n + secret).encode()).decode()[4 if n else 0 : -4] for n in range(3)
    ]
    return {form[i : i + 8].lower() for form in forms for i in range(len(form) - 7)}


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lead_pipeline.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_no_key_or_piece_of_one_reaches_any_place_text_is_written(tmp_path: Path) -> None:
    data = Path(os.environ["LEAD_PIPELINE_DATA_DIR"])
    store = LeadStore()
    store.import_rows("crm", rows())
    store.dispose()
    servers: dict[str, StubServer] = {
        "openai": OpenAIServer(api_key=KEYS["OPENAI_API_KEY"]),
        "anthropic": AnthropicServer(api_key=KEYS["ANTHROPIC_API_KEY"]),
        "serper": SerperServer(api_key=KEYS["SERPER_API_KEY"]),
        "brave": BraveServer(api_key=KEYS["BRAVE_API_KEY"]),
        "hunter": HunterServer(api_key=KEYS["HUNTER_API_KEY"]),
        "apollo": ApolloServer(api_key=KEYS["APOLLO_API_KEY"]),
        "pdl": PdlServer(api_key=KEYS["PDL_API_KEY"]),
        "hubspot": HubSpotServer(token=KEYS["HUBSPOT_ACCESS_TOKEN"]),
        "api": EchoingApi(),
    }
    env_names = {
        "openai": "OPENAI",
        "anthropic": "ANTHROPIC",
        "serper": "SERPER",
        "brave": "BRAVE",
        "hunter": "HUNTER",
        "apollo": "APOLLO",
        "pdl": "PDL",
        "hubspot": "HUBSPOT",
    }
    outputs: dict[str, str] = {}
    exports = tmp_path / "exports"
    for server in servers.values():
        server.start()
    try:
        for family, key_env in [(f, f"{env_names[f]}_API_KEY") for f in FAMILIES[:-1]]:
            servers[family].script(*echoes(KEYS[key_env]))
        workflows = write_workflow(
            tmp_path / "wf", WORKFLOW.format(base=servers["api"].root_url), name="leaky"
        )
        env = cli_env(
            workflows,
            **KEYS,
            **{f"{env_names[f]}_BASE_URL": servers[f].base_url for f in env_names},
            LEAD_PIPELINE_RETRY=json.dumps({"max_attempts": 1}),
            **trusted(servers["api"]),
        )
        done = _run(
            env, "enrich", "--lead", "crm", "--workflow", "leaky", "--parallel", "8", "--yes"
        )
        outputs["enrich"] = done.stdout + done.stderr
        assert done.returncode == 1, outputs["enrich"]  # rows failed, and the run says so
        for family in FAMILIES[:-1]:  # each stand-in was asked, with its key, and echoed it
            assert servers[family].requests, f"{family} was never called: {outputs['enrich']}"

        hubspot = servers["hubspot"]
        # 207: HubSpot refuses two companies, quoting the token in each record's error.
        token = KEYS["HUBSPOT_ACCESS_TOKEN"]
        hubspot.reject = {
            "openai0.io": f"Property values were not valid: token {token}",
            "brave1.io": f"INVALID_AUTHENTICATION for Bearer {token.upper()}",
        }
        sync = _run(env, "sync", "hubspot", "--lead", "crm")
        outputs["sync 207"] = sync.stdout + sync.stderr
        assert sync.returncode == 1 and "failed" in sync.stdout, outputs["sync 207"]
        hubspot.reject = {}
        for i, echo in enumerate(echoes(token)[:2]):  # a 401 and a 503 quoting it
            hubspot.script(echo)
            again = _run(env, "sync", "hubspot", "--lead", "crm")
            outputs[f"sync echo {i}"] = again.stdout + again.stderr
            assert again.returncode == 1, outputs[f"sync echo {i}"]

        for name, args in {
            "errors": ["errors", "--lead", "crm"],
            "errors by cause": ["errors", "--lead", "crm", "--by-cause"],
            "export": [
                *("export", "--lead", "crm", "--format", "csv", "--errors"),
                *("--out", str(exports / "crm.csv")),
            ],
            "export jsonl": [
                *("export", "--lead", "crm", "--format", "jsonl", "--errors"),
                *("--out", str(exports / "crm.jsonl")),
            ],
            "status": ["status", "--lead", "crm"],
        }.items():
            result = _run(env, *args)
            outputs[name] = result.stdout + result.stderr
            assert result.returncode in (0, 1), outputs[name]
    finally:
        for server in servers.values():
            server.stop()

    assert (data / "logs").is_dir() and (data / "dagster_home").is_dir()
    places: dict[str, str] = {f"output of {name}": text for name, text in outputs.items()}
    for folder in (data, exports):
        for path in folder.rglob("*"):
            if path.is_file():
                places[str(path)] = path.read_bytes().decode("utf-8", "replace")
    assert any(p.endswith(".db") for p in places) and any(".csv" in p for p in places)
    folded = {where: text.lower() for where, text in places.items()}
    found = []
    for name, secret in KEYS.items():
        for piece in sorted(_pieces(secret)):
            found += [f"{name} ({piece!r}) in {where}" for where, t in folded.items() if piece in t]
    assert found == [], "\n".join(found[:40])
    # The errors really are there, masked: the seams kept the message and cut the key.
    assert "***" in outputs["errors"] and "***" in outputs["sync 207"], outputs


def test_a_207_quoting_the_token_reaches_dagster_s_event_log_masked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The ``hubspot_sync`` asset fails on HubSpot's refusals with a ``dg.Failure`` naming
    them: the token they quote is masked in the stored event, and in no file of the Dagster
    home (event log database, compute logs)."""
    import dagster as dg

    from lead_pipeline.defs.definitions import definitions
    from lead_pipeline.defs.partitions import instance, register_lead_list

    token = KEYS["HUBSPOT_ACCESS_TOKEN"]
    store = LeadStore()
    store.import_rows("crm", rows()[:3])
    with HubSpotServer(token=token) as hubspot:
        for name, value in hubspot.env().items():
            monkeypatch.setenv(name, value)
        hubspot.reject = {"openai0.io": f"Property values were not valid: token {token}"}
        defs = definitions()
        dagster_instance = instance()
        register_lead_list("crm", dagster_instance)
        result = dg.materialize(
            [defs.get_assets_def("hubspot_sync")],
            partition_key="crm",
            instance=dagster_instance,
            resources={"store": defs.resources["store"]},
            raise_on_error=False,
        )
    store.dispose()
    assert not result.success
    stored_events = dagster_instance.all_logs(result.run_id)  # as the UI reads them
    [failure] = [
        e.dagster_event
        for e in stored_events
        if e.is_dagster_event and e.dagster_event.is_step_failure
    ]
    description = failure.step_failure_data.user_failure_data.description
    assert "openai0.io" in description and "***" in description, description
    assert token not in description
    home = Path(os.environ["DAGSTER_HOME"])
    stored = [p for p in home.rglob("*") if p.is_file()]
    assert any(p.suffix == ".db" for p in stored)
    text = b"\n".join(p.read_bytes() for p in stored).decode("utf-8", "replace").lower()
    assert [p for p in _pieces(token) if p in text] == []
