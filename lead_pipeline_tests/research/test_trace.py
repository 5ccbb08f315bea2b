"""The row trace (``lead-pipeline trace``) and ``enrich --row``: a row's calls as the
servers on 127.0.0.1 counted them, its run, inputs, evidence; secrets masked."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest

from lead_pipeline.cli import main
from lead_pipeline.engine import RowsFailed, RunOptions, WorkflowRun
from lead_pipeline.engine.compile import CompiledWorkflow
from lead_pipeline.engine.trace import UnknownRow, row_trace
from lead_pipeline.settings import reset_settings
from lead_pipeline.store import LeadStore
from lead_pipeline_tests.research.conftest import World, research_workflow
from lead_pipeline_tests.servers import Reply
from lead_pipeline_tests.servers.llm import DEFAULT_KEY
from lead_pipeline_tests.servers.search import SERPER_KEY


def enrich(store: LeadStore, workflow: CompiledWorkflow, dagster_run: str, **options: object):  # type: ignore[no-untyped-def]
    run = WorkflowRun(store, workflow, "demo", RunOptions(parallel=2, **options), owner=dagster_run)  # type: ignore[arg-type]
    run.check()
    selection = run.select(dagster_run_id=dagster_run)
    return run.close(selection, [run.run_shard(s) for s in run.shards(selection)])


def node_of(trace: dict, workflow: str = "company_profile", node: str = "profile") -> dict:
    [found] = [w for w in trace["workflows"] if w["workflow"] == workflow]
    [entry] = [n for n in found["nodes"] if n["node"] == node]
    return entry


def live(calls: list[dict], provider: str) -> int:
    """Requests the trace says reached ``provider``: the attempts of its live calls."""
    return sum(c["attempts"] for c in calls if c["provider"] == provider and not c["cached"])


def test_the_trace_shows_exactly_the_calls_the_servers_counted(
    acme: LeadStore, world: World, tmp_path: Path
) -> None:
    workflow = research_workflow(tmp_path)
    world.llm.script(Reply(status=500, json={"error": {"message": "overloaded"}}))
    summary = enrich(acme, workflow, "dagster-run-1")
    assert summary.ok == 1
    trace = row_trace(acme, "demo", "acme", [workflow])
    node = node_of(trace)
    calls = node["calls"]
    assert node["status"] == "ok" and node["type"] == "research"
    assert node["run"]["dagster_run_id"] == "dagster-run-1"
    assert live(calls, "serper") == world.search.count() == 1
    assert live(calls, "fetch") == len(world.web.requests) == 3
    assert live(calls, "openai") == world.llm.count() == 2  # the 500, then the answer
    [search] = [c for c in calls if c["provider"] == "serper"]
    assert (search["endpoint"], search["status"], search["cached"]) == ("POST /search", 200, False)
    [answer] = [c for c in calls if c["provider"] == "openai"]
    assert answer["endpoint"] == "POST /v1/chat/completions"
    assert (answer["status"], answer["attempts"]) == (200, 2)
    assert answer["input_tokens"] > 0 and answer["output_tokens"] > 0
    fetched = sorted(c["endpoint"] for c in calls if c["provider"] == "fetch")
    pages = [world.site, world.web.url("/about"), world.web.url("/pricing")]
    assert fetched == sorted(f"GET {url}" for url in pages)
    assert sum(c["cost"] for c in calls) == pytest.approx(node["cost"])
    assert all(c["latency_ms"] >= 0 for c in calls)
    # The inputs the node read, and that they are still what it read.
    assert node["inputs"] == {"name": "Acme", "website": world.site}
    assert node["inputs_now"] == "as when it ran" and node["input_hash"]
    assert node["evidence"]["hq_country"]["quote"] == "headquartered in Berlin, Germany"

    # Forced again: every answer from the response cache, no request reaches a server.
    before = (world.search.count(), len(world.web.requests), world.llm.count())
    enrich(acme, workflow, "dagster-run-2", force=True)
    assert (world.search.count(), len(world.web.requests), world.llm.count()) == before
    again = node_of(row_trace(acme, "demo", "acme", [workflow]))
    assert again["run"]["dagster_run_id"] == "dagster-run-2"
    assert again["calls"] and all(c["cached"] and c["attempts"] == 0 for c in again["calls"])
    assert sum(c["cost"] for c in again["calls"]) == 0
    assert again["cost"] == pytest.approx(node["cost"])  # a node's cost counts all its runs


def test_a_failed_node_shows_its_error_and_attempts_and_no_secret(
    acme: LeadStore, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workflow = research_workflow(tmp_path)
    # The LLM refuses the key and echoes it back: the trace must not show it.
    world.llm.api_key = "sk-other-key-the-server-wants"
    with pytest.raises(RowsFailed):
        enrich(acme, workflow, "dagster-run-1")
    trace = row_trace(acme, "demo", "acme", [workflow])
    node = node_of(trace)
    assert node["status"] == "failed" and "refused the credentials" in node["reason"]
    [answer] = [c for c in node["calls"] if c["provider"] == "openai"]
    assert (answer["status"], answer["attempts"]) == (401, 1) and answer["error"]
    assert live(node["calls"], "openai") == world.llm.count() == 1
    text = json.dumps(trace)
    assert DEFAULT_KEY not in text and SERPER_KEY not in text
    assert DEFAULT_KEY[:12] not in text


def use_store(store: LeadStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the command at the test's store."""
    url = store.engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("LEAD_PIPELINE_DB_URL", url)
    reset_settings()


def test_trace_command_prints_text_and_json(
    acme: LeadStore,
    world: World,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_store(acme, monkeypatch)
    workflow = research_workflow(tmp_path)
    enrich(acme, workflow, "dagster-run-1")
    capsys.readouterr()
    assert main(["trace", "--lead", "demo", "--row", "acme", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert node_of(printed)["status"] == "ok"
    assert main(["trace", "--lead", "demo", "--row", "acme", "--workflow", "company_profile"]) == 0
    text = capsys.readouterr().out
    assert "1. profile (research): ok" in text
    assert "serper  POST /search  live  HTTP 200  1 attempt" in text
    assert "Dagster run dagster-run-1" in text
    assert "evidence headcount_range: " in text and '"we are a team of 30 people"' in text
    assert main(["trace", "--lead", "demo", "--row", "nope"]) == 2
    assert "has no row 'nope'" in capsys.readouterr().err
    with pytest.raises(UnknownRow):
        row_trace(acme, "demo", "nope", [workflow])


def test_enrich_row_runs_only_those_rows_and_force_redoes_finished_ones(
    store: LeadStore, world: World, tmp_path: Path
) -> None:
    store.import_rows(
        "demo",
        [
            ("acme", {"name": "Acme", "website": world.site}),
            ("globex", {"name": "Globex", "website": world.site}),
            ("initech", {"name": "Initech", "website": world.site}),
        ],
    )
    workflow = research_workflow(tmp_path)
    summary = enrich(store, workflow, "run-1", rows=["globex"])
    assert (summary.ok, summary.up_to_date) == (1, 0)
    assert set(store.results("demo")) == {"globex"}
    summary = enrich(store, workflow, "run-2", rows=["globex", "acme"])
    assert (summary.ok, summary.up_to_date) == (1, 1)  # globex is finished
    assert set(store.results("demo")) == {"globex", "acme"}
    asked = world.llm.count()
    summary = enrich(store, workflow, "run-3", rows=["globex"], force=True, refresh=True)
    assert summary.ok == 1 and world.llm.count() == asked + 1


def test_enrich_row_refuses_an_unknown_id(
    acme: LeadStore, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    use_store(acme, monkeypatch)
    assert main(["enrich", "--lead", "demo", "--row", "acme", "--row", "missing", "--yes"]) == 2
    assert "--row: lead list 'demo' has no row 'missing'" in capsys.readouterr().err


def test_max_cost_bounds_the_research(store: LeadStore, world: World, tmp_path: Path) -> None:
    store.import_rows(
        "demo", [(f"c{i}", {"name": f"Company {i}", "website": world.site}) for i in range(4)]
    )
    workflow = research_workflow(tmp_path)
    # Rows refused by the cap may count as failed: what matters here is the money.
    with contextlib.suppress(RowsFailed):
        enrich(store, workflow, "run-1", max_cost=0.0001)
    spent = sum(r.cost for found in store.results("demo").values() for r in found.values())
    assert spent <= 0.0001
    assert world.llm.count() == 0  # no LLM question fits in the cap


def test_the_run_summary_counts_unsupported_answers(
    acme: LeadStore, world: World, tmp_path: Path
) -> None:
    world.model.mode = "number"
    summary = enrich(acme, research_workflow(tmp_path), "run-1")
    assert (summary.ok, summary.unsupported) == (1, 1)
    assert "1 answer unsupported by their evidence (stored as no answer)" in summary.line()
