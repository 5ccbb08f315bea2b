"""A question answered through an LLM batch is traced like a synchronous call.

``lead-pipeline trace`` and the MCP server's ``trace_row`` tool read the calls a node's
result recorded; a batch answer records its call too: the provider, the model, the batch
id and the line's ``custom_id``, the tokens, and the cost at the batch price. The same
row asked synchronously (in a store of its own, so its answer is not in this one's
cache) gives the call to compare.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lead_pipeline.cli import main
from lead_pipeline.cli.mcp_tools import trace_row
from lead_pipeline.engine.options import RunOptions
from lead_pipeline.engine.trace import row_trace
from lead_pipeline.engine.workflow_run import WorkflowRun
from lead_pipeline.providers.cost import PriceTable, Usage
from lead_pipeline.settings import get_settings, reset_settings
from lead_pipeline.store import FAILED, OK, LeadStore
from lead_pipeline_tests.batch.conftest import compile_workflow, run

TWINS = {"name": "Acme", "product": "invoices"}
ROWS = [
    ("a", TWINS),
    ("b", dict(TWINS)),  # the same question as a: one line, b answered from the cache
    ("c", {"name": "Bolt", "product": "payroll"}),  # its line errored by the provider
    ("d", {"name": "Crux", "product": "CRM"}),
]


def _judge(traced: dict[str, Any]) -> dict[str, Any]:
    [grade] = [w for w in traced["workflows"] if w["workflow"] == "grade"]
    [judge] = [n for n in grade["nodes"] if n["node"] == "judge"]
    return judge


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_batch_answer_is_traced_like_a_synchronous_call(
    store: LeadStore,
    tmp_path: Path,
    provider: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = request.getfixturevalue(f"{provider}_batches")
    workflow = compile_workflow(tmp_path, provider)
    monkeypatch.setenv("LEAD_PIPELINE_DB_URL", store.url)  # the commands open this store
    monkeypatch.setenv("LEAD_PIPELINE_WORKFLOWS", str(tmp_path / f"wf-{provider}"))
    reset_settings()
    # The synchronous lane in a store of its own, for the call to compare with.
    sync = LeadStore(f"sqlite:///{tmp_path / 'sync.db'}")
    try:
        sync.import_rows("demo", [ROWS[0]])
        run(sync, workflow, get_settings())
        [sync_call] = _judge(row_trace(sync, "demo", "a", [workflow]))["calls"]
    finally:
        sync.dispose()
    assert sync_call["cached"] is False and sync_call["cost"] > 0

    store.import_rows("demo", ROWS)
    run(store, workflow, get_settings(), lane="batch")
    (record,) = store.batches("demo")
    requests = {r.row_id: r for r in store.batch_requests(record.key).values()}
    server.end(errored={requests["c"].custom_id})
    run(store, workflow, get_settings(), lane="batch")

    # Through the MCP tool (the same loader as `lead-pipeline trace --json`).
    judge = _judge(trace_row("demo", "a"))
    assert judge["status"] == OK
    [call] = judge["calls"]
    assert set(sync_call) - {"error"} <= set(call), (sync_call, call)
    assert call["provider"] == sync_call["provider"] == provider
    assert call["endpoint"] == sync_call["endpoint"]
    assert call["cached"] is False and call["status"] == 200 and call["attempts"] == 1
    assert call["batch_id"] == record.batch_id and call["batch_id"] in server.batches
    assert call["custom_id"] == requests["a"].custom_id
    assert call["model"] == record.model == requests["a"].question["model"]
    # The same question, the same tokens; the batch price is half the synchronous one.
    assert (call["input_tokens"], call["output_tokens"]) == (
        sync_call["input_tokens"],
        sync_call["output_tokens"],
    )
    usage = Usage(call["input_tokens"], call["output_tokens"])
    half = PriceTable().token_cost(record.model, usage, provider=provider) / 2
    assert call["cost"] == pytest.approx(half) == pytest.approx(sync_call["cost"] / 2)
    assert judge["cost"] == pytest.approx(half) and call["cost"] > 0

    # The twin: answered from the cache its twin's line filled, for nothing.
    [twin] = _judge(trace_row("demo", "b"))["calls"]
    assert twin["cached"] is True and twin["cost"] == 0 and twin["batch_id"] == record.batch_id
    # The errored line: the provider's reason on the call, no tokens, nothing paid.
    errored = _judge(trace_row("demo", "c"))
    assert errored["status"] == FAILED
    [failed] = errored["calls"]
    assert failed["batch_id"] == record.batch_id and failed["cost"] == 0
    assert failed["custom_id"] == requests["c"].custom_id and failed["error"]

    # A question the cache answers in the batch lane, before any batch: a cached call too.
    store.import_rows("again", [ROWS[3]])
    again = WorkflowRun(store, workflow, "again", RunOptions(lane="batch"), settings=get_settings())
    selection = again.select()
    again.close(selection, [again.run_shard(s) for s in again.shards(selection)])
    assert len(store.batches("again")) == 0
    [hit] = _judge(trace_row("again", "d"))["calls"]
    assert hit["cached"] is True and hit["cost"] == 0 and hit["provider"] == provider
    assert hit["output_tokens"] == _judge(trace_row("demo", "d"))["calls"][0]["output_tokens"]

    # `lead-pipeline trace` prints the batch call's line.
    assert main(["trace", "--lead", "demo", "--row", "a"]) == 0
    out = capsys.readouterr().out
    [line] = [x for x in out.splitlines() if f"batch {record.batch_id}" in x]
    assert f"line {requests['a'].custom_id}" in line and f"model {record.model}" in line
    assert f"${half:.4f}" in line and "tokens" in line
