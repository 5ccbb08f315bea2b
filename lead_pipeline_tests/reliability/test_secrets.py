"""API keys a provider echoes back never land anywhere a run writes.

Providers do echo keys ("Incorrect API key provided: sk-..."), in 401s, in 5xx
bodies, even in broken 200 answers. One enrich run meets all of these, with an
OpenAI key and with an API whose two credentials live in variables no naming
rule recognises; then every byte the run left behind is searched for them: the
store (results, errors, run records), the CLI's output, exports, the Dagster
event log as the instance serves it, and every file under the data folder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg
import pytest
from dagster._serdes import serialize_value

from lead_pipeline.defs.partitions import instance as dagster_instance
from lead_pipeline.engine.services import RETRY_ENV
from lead_pipeline.leads import export_list
from lead_pipeline.store import FAILED, LeadStore
from lead_pipeline_tests.reliability.harness import Enrich, cli_env, trusted, write_workflow
from lead_pipeline_tests.servers import OpenAIServer, RecordedRequest, Reply, StubServer

pytestmark = pytest.mark.slow

OPENAI_KEY = "sk-reliability-LEAK-0123456789abcdef"
CLIENT_ID = "acme-id-7f3a9c2e51d4"
CLIENT_KEY = "acme-key-b84d1e6f09c2"
SECRETS = (OPENAI_KEY, CLIENT_ID, CLIENT_KEY)

WORKFLOW = """\
name: leaky
nodes:
  - id: ask
    type: llm
    when: "kind == 'llm'"
    prompt: "Describe {{{{ name }}}}"
    outputs: {{summary: string}}
  - id: lookup
    type: http
    when: "kind != 'llm'"
    url: "{base}/lookup"
    params: {{row: "{{{{ _id }}}}"}}
    secret_headers: {{X-Client-Id: ACME_CLIENT_ID, X-Client-Key: ACME_CLIENT_KEY}}
    extract: {{size: "size"}}
    outputs: {{size: integer}}
"""


class EchoingApi(StubServer):
    """Echoes the credentials it was sent, in the ways careless APIs do."""

    def handle(self, request: RecordedRequest) -> Reply:
        headers = request.headers
        sent = f"client id {headers.get('x-client-id')}, key {headers.get('x-client-key')}"
        kind = request.param("row") or ""
        if kind.startswith("refused"):
            return Reply(status=400, json={"error": {"message": f"unknown credentials: {sent}"}})
        if kind.startswith("broken"):
            return Reply(status=503, body=f"upstream failed for {sent}")
        return Reply(body=f"<html>welcome, {sent}</html>", content_type="application/json")


def _everything_under(folder: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_echoed_keys_reach_no_store_output_export_or_event_log(tmp_path: Path) -> None:
    rows = [
        ("llm-1", {"name": "Acme", "kind": "llm"}),
        ("llm-2", {"name": "Globex", "kind": "llm"}),
        ("refused-1", {"name": "Initech", "kind": "api"}),
        ("broken-1", {"name": "Umbrella", "kind": "api"}),
        ("garbled-1", {"name": "Hooli", "kind": "api"}),
    ]
    # The stand-in expects another key, and says which one it was given.
    with OpenAIServer(api_key="sk-the-right-one-000000") as llm, EchoingApi() as api:
        env = cli_env(
            write_workflow(tmp_path / "wf", WORKFLOW.format(base=api.root_url), name="leaky"),
            OPENAI_BASE_URL=llm.base_url,
            OPENAI_API_KEY=OPENAI_KEY,
            ACME_CLIENT_ID=CLIENT_ID,
            ACME_CLIENT_KEY=CLIENT_KEY,
            **{RETRY_ENV: json.dumps({"max_attempts": 2, "base_delay": 0.05})},
            **trusted(api),
        )
        store = LeadStore()
        store.import_rows("crm", rows)
        done = Enrich(env, tmp_path / "run", "--lead", "crm", "--workflow", "leaky").wait()
        # The keys really were sent, and really were echoed back.
        assert {r.headers.get("authorization") for r in llm.requests} == {f"Bearer {OPENAI_KEY}"}
        assert {r.headers.get("x-client-key") for r in api.requests} == {CLIENT_KEY}

    assert done.code == 0, done.output
    results = store.results("crm")
    errors = {
        row: r.error or ""
        for row, found in results.items()
        for r in found.values()
        if r.status == FAILED
    }
    assert sorted(errors) == sorted(row for row, _ in rows)  # every row hit an echo
    assert all("***" in error for error in errors.values()), errors  # masked, not dropped
    assert "check OPENAI_API_KEY" in errors["llm-1"]

    exports = [export_list(store, "crm", fmt, tmp_path / f"out.{fmt}") for fmt in ("csv", "jsonl")]
    instance = dagster_instance()
    [run] = instance.get_runs()
    event_log = [serialize_value(entry) for entry in instance.all_logs(run.run_id)]
    assert any("row failed" in entry and "***" in entry for entry in event_log)
    store.dispose()

    places: dict[str, str | bytes] = {
        "CLI output": done.output,
        "event log": "\n".join(event_log),
        "store results": repr(results),
        "run records": repr(LeadStore().recent_runs("crm")),
        **{f"export {p.name}": p.read_bytes() for p in exports},
        **{
            str(path): data
            for path, data in _everything_under(Path(os.environ["LEAD_PIPELINE_DATA_DIR"])).items()
        },
    }
    for secret in SECRETS:
        leaked = [
            where
            for where, text in places.items()
            if (secret.encode() if isinstance(text, bytes) else secret) in text
        ]
        assert leaked == [], f"{secret[:8]}... found in {leaked}"
    assert run.status == dg.DagsterRunStatus.SUCCESS
