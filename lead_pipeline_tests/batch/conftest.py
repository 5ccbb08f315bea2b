"""The batch lane's fixtures: a store with a lead list, a workflow whose llm node sits
between two others, and both providers' batch stand-ins on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lead_pipeline.engine.compile import CompiledWorkflow
from lead_pipeline.engine.options import RunOptions
from lead_pipeline.engine.registry import registry
from lead_pipeline.engine.summary import RunSummary
from lead_pipeline.engine.workflow_run import WorkflowRun
from lead_pipeline.settings import Settings, reset_settings
from lead_pipeline.store import LeadStore
from lead_pipeline.workflows.loader import load_workflows
from lead_pipeline_tests.servers.llm_batch import AnthropicBatchServer, OpenAIBatchServer

WORKFLOW = """\
name: grade
nodes:
  - id: about
    type: expression
    values: {about: "upper(name)"}
    outputs: {about: string}
  - id: judge
    type: llm
    backend: BACKEND
    prompt: "Is {{ about }} ({{ product }}) a B2B company?"
    outputs:
      sells_b2b: boolean
      confidence: {type: number, minimum: 0, maximum: 1}
  - id: label
    type: expression
    values: {shout: "upper(about)", verdict: "sells_b2b"}
    outputs: {shout: string, verdict: boolean}
"""


def compile_workflow(tmp_path: Path, backend: str, text: str = WORKFLOW) -> CompiledWorkflow:
    folder = tmp_path / f"wf-{backend}"
    folder.mkdir(exist_ok=True)
    (folder / "grade.yaml").write_text(text.replace("BACKEND", backend))
    (workflow,) = load_workflows([folder], builtin_dirs=[], node_types=registry())
    return workflow


def import_rows(store: LeadStore, count: int, name: str = "demo") -> None:
    rows = [(f"row{i}", {"name": f"Company {i}", "product": f"tool {i}"}) for i in range(count)]
    store.import_rows(name, rows)


def run(
    store: LeadStore, workflow: CompiledWorkflow, settings: Settings, **options: Any
) -> RunSummary:
    """One run as ``enrich`` drives it, without Dagster: select (collecting ended batches
    first), shard, run, close."""
    run = WorkflowRun(store, workflow, "demo", RunOptions(**options), settings=settings)
    selection = run.select()
    summaries = [run.run_shard(shard) for shard in run.shards(selection)]
    return run.close(selection, summaries)


@pytest.fixture
def openai_batches(monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenAIBatchServer]:
    with OpenAIBatchServer() as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
        reset_settings()
        yield server


@pytest.fixture
def anthropic_batches(monkeypatch: pytest.MonkeyPatch) -> Iterator[AnthropicBatchServer]:
    with AnthropicBatchServer() as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        reset_settings()
        yield server
