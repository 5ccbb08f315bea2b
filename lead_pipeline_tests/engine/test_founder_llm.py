"""``founder_extract`` asking the LLM (a key is set, ``llm: auto``) is a paid provider call
like any other: priced by the plan, bounded by the cap through the one ledger, recorded in
the row trace, and bounded by ``parallel`` (it waits on a provider, so it is not inline).

Everything runs against the OpenAI stand-in on 127.0.0.1; the search results the node reads
are an imported column, so the LLM is the only provider of the run.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest

from lead_pipeline.engine import RowsFailed, RunOptions, WorkflowRun
from lead_pipeline.engine.compile import CompiledWorkflow
from lead_pipeline.engine.plan import plan_run
from lead_pipeline.engine.registry import registry
from lead_pipeline.engine.summary import RunSummary
from lead_pipeline.engine.trace import row_trace
from lead_pipeline.settings import get_settings, reset_settings
from lead_pipeline.store import LeadStore
from lead_pipeline.workflows.loader import load_workflows
from lead_pipeline_tests.servers.llm import OpenAIServer

ROWS = 10

WORKFLOW = """\
name: founders_only
nodes:
  - id: extract
    type: founder_extract
    results: hits
    outputs:
      founders: {type: array}
      founder_count: {type: integer, minimum: 0}
"""


def hits(i: int) -> list[dict[str, str]]:
    return [
        {
            "title": f"Ada {i} - Co-founder - Company {i} | LinkedIn",
            "url": f"https://www.linkedin.com/in/ada-{i}",
            "snippet": f"Co-founder at Company {i}. Building things.",
        }
    ]


@pytest.fixture
def openai(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    # Slow enough that rows not bounded by ``parallel`` would meet at the server.
    with OpenAIServer(latency=0.2) as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        reset_settings()
        yield server


@pytest.fixture
def workflow(tmp_path: Path) -> CompiledWorkflow:
    folder = tmp_path / "wf"
    folder.mkdir()
    (folder / "founders_only.yaml").write_text(WORKFLOW)
    [compiled] = load_workflows([folder], builtin_dirs=[], node_types=registry())
    return compiled


@pytest.fixture
def companies(store: LeadStore) -> LeadStore:
    store.import_rows(
        "demo",
        [(f"c{i}", {"name": f"Company {i}", "hits": hits(i)}) for i in range(ROWS)],
    )
    return store


def enrich(store: LeadStore, workflow: CompiledWorkflow, run_id: str, **options: Any) -> RunSummary:
    """What ``enrich`` does for one workflow, under the Dagster run id ``run_id``."""
    run = WorkflowRun(store, workflow, "demo", RunOptions(**options), owner=run_id)
    run.check()
    selection = run.select(dagster_run_id=run_id)
    return run.close(selection, [run.run_shard(s) for s in run.shards(selection)])


def spent(store: LeadStore) -> float:
    return sum(r.cost for found in store.results("demo").values() for r in found.values())


def test_with_a_key_it_is_not_inline_and_parallel_bounds_it(
    companies: LeadStore, workflow: CompiledWorkflow, openai: OpenAIServer
) -> None:
    summary = enrich(companies, workflow, "run-1", parallel=2)
    assert summary.ok == ROWS and openai.count() == ROWS
    assert openai.max_in_flight <= 2  # 64 rows at once while it claimed to be inline
    assert not workflow.runs_inline(get_settings())  # it waits on a provider


def test_without_a_key_it_is_inline(
    companies: LeadStore, workflow: CompiledWorkflow, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    reset_settings()
    assert workflow.runs_inline(get_settings())
    summary = enrich(companies, workflow, "run-1", parallel=2)
    assert summary.ok == ROWS and spent(companies) == 0


def test_each_row_s_question_is_in_its_trace_and_priced_by_the_plan(
    companies: LeadStore, workflow: CompiledWorkflow, openai: OpenAIServer
) -> None:
    settings = get_settings()
    plan = plan_run(
        companies, "demo", [workflow], lambda _w: RunOptions(parallel=2), settings=settings
    )
    [node] = plan.workflows[0].nodes
    assert (node.provider, node.calls_min, node.calls_max) == ("openai", ROWS, 2 * ROWS)
    assert openai.count() == 0  # the plan asks nothing

    enrich(companies, workflow, "run-1", parallel=2)
    total = spent(companies)
    assert node.cost_min > 0 and 0 < total <= node.cost_max
    traced = 0
    for i in range(ROWS):
        [entry] = row_trace(companies, "demo", f"c{i}", [workflow])["workflows"]
        [extract] = entry["nodes"]
        [call] = extract["calls"]  # recorded like every other call (it was None)
        assert (call["provider"], call["endpoint"]) == ("openai", "POST /v1/chat/completions")
        assert call["status"] == 200 and not call["cached"]
        assert call["cost"] == pytest.approx(extract["cost"]) and extract["cost"] > 0
        traced += call["attempts"]
    assert traced == openai.count() == ROWS


@pytest.mark.parametrize("cap", [0.00001, 0.01])
def test_the_cap_bounds_its_questions(
    companies: LeadStore, workflow: CompiledWorkflow, openai: OpenAIServer, cap: float
) -> None:
    """Under a cap smaller than one question's most nothing is asked; under one that fits a
    few, five rows in flight never spend past it."""
    with contextlib.suppress(RowsFailed):
        enrich(companies, workflow, "run-1", parallel=5, max_cost=cap)
    assert spent(companies) <= cap
    if cap < 0.0001:
        assert openai.count() == 0
    else:
        assert openai.count() > 0
