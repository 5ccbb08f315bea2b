"""The batch lane end to end against both providers' batch stand-ins."""

from __future__ import annotations

from pathlib import Path

import pytest

from lead_pipeline.settings import get_settings
from lead_pipeline.store import OK, LeadStore
from lead_pipeline_tests.batch.conftest import compile_workflow, import_rows, run
from lead_pipeline_tests.servers.llm_batch import AnthropicBatchServer, OpenAIBatchServer


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_submit_wait_collect_continue(
    store: LeadStore, tmp_path: Path, provider: str, request: pytest.FixtureRequest
) -> None:
    server: OpenAIBatchServer | AnthropicBatchServer = request.getfixturevalue(
        f"{provider}_batches"
    )
    import_rows(store, 6)
    workflow = compile_workflow(tmp_path, provider)
    summary = run(store, workflow, get_settings(), lane="batch")
    assert summary.waiting == 6 and summary.failed == 0
    assert len(summary.batches) == 1 and summary.batches[0].rows == 6
    assert "submitted 1 LLM batch" in summary.batch_lines()[0]
    # No synchronous call was made: every question went into the batch.
    assert server.count("/v1/chat/completions") + server.count("/v1/messages") == 0
    # The next run neither submits again nor counts the waiting rows as work.
    again = run(store, workflow, get_settings(), lane="batch")
    assert again.batches == [] and again.waiting_on_batch == 6 and again.selected == 0
    server.end()
    done = run(store, workflow, get_settings(), lane="batch")
    results = store.results("demo", ["grade"])
    assert len(results) == 6
    for row in results.values():
        judge = row[("grade", "judge")]
        assert judge.status == OK and judge.outputs == {"sells_b2b": True, "confidence": 0.5}
        assert row[("grade", "label")].status == OK  # the row went on to its next node
    assert done.waiting_on_batch == 0 and store.batches("demo")[0].state == "collected"
