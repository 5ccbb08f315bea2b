"""The batch lane end to end against both providers' batch stand-ins."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lead_pipeline.cli import main
from lead_pipeline.settings import get_settings, reset_settings
from lead_pipeline.store import FAILED, OK, LeadStore
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


def test_split_by_the_count_limit_one_batch_per_chunk(
    store: LeadStore, tmp_path: Path, openai_batches: OpenAIBatchServer, monkeypatch
) -> None:
    monkeypatch.setenv("LEAD_PIPELINE_BATCH_MAX_REQUESTS", "4")
    reset_settings()
    import_rows(store, 10)
    workflow = compile_workflow(tmp_path, "openai")
    summary = run(store, workflow, get_settings(), lane="batch")
    assert sorted(b.rows for b in summary.batches) == [2, 4, 4]
    # Each row's question is in exactly one batch.
    asked = [
        line["custom_id"] for bid in openai_batches.batches for line in openai_batches.lines(bid)
    ]
    assert len(asked) == len(set(asked)) == 10
    openai_batches.end()
    run(store, workflow, get_settings(), lane="batch")
    results = store.results("demo", ["grade"])
    assert sum(r[("grade", "judge")].status == OK for r in results.values()) == 10


def test_a_file_over_the_size_limit_is_split(
    store: LeadStore, tmp_path: Path, openai_batches: OpenAIBatchServer, monkeypatch
) -> None:
    import lead_pipeline.providers.batch_api as batch_api

    monkeypatch.setattr(batch_api.OpenAIBatches, "max_bytes", 5_000)
    openai_batches.max_bytes = 5_000  # the stand-in refuses a bigger file, as OpenAI does
    import_rows(store, 12)
    summary = run(store, compile_workflow(tmp_path, "openai"), get_settings(), lane="batch")
    assert len(summary.batches) > 1 and sum(b.rows for b in summary.batches) == 12
    assert all(
        len(openai_batches.files[b["input_file_id"]]) <= 5_000
        for b in openai_batches.batches.values()
    )


def test_answers_in_any_order_reach_their_own_rows(
    store: LeadStore, tmp_path: Path, openai_batches: OpenAIBatchServer
) -> None:
    # Each row's answer is derived from its own prompt, so a mix-up would show.
    def answer(body: dict) -> dict:
        prompt = body["messages"][-1]["content"]
        number = int(prompt.split("COMPANY ")[1].split(" ")[0])
        return {"sells_b2b": number % 2 == 0, "confidence": number / 100}

    openai_batches.responder = answer
    import_rows(store, 30)
    workflow = compile_workflow(tmp_path, "openai")
    run(store, workflow, get_settings(), lane="batch")
    openai_batches.end()  # the stand-in shuffles the output file
    run(store, workflow, get_settings(), lane="batch")
    for row_id, row in store.results("demo", ["grade"]).items():
        number = int(row_id.removeprefix("row"))
        assert row[("grade", "judge")].outputs == {
            "sells_b2b": number % 2 == 0,
            "confidence": number / 100,
        }


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_invalid_and_errored_answers_fail_their_rows_with_the_reason(
    store: LeadStore, tmp_path: Path, provider: str, request: pytest.FixtureRequest
) -> None:
    server = request.getfixturevalue(f"{provider}_batches")

    def answer(body: dict) -> Any:
        text = json.dumps(body)
        if "COMPANY 0 " in text:
            return {"sells_b2b": "yes", "confidence": 0.5}  # not a boolean: the schema
        if "COMPANY 1 " in text:
            return {"sells_b2b": True, "confidence": 7}  # above the declared maximum
        return {"sells_b2b": True, "confidence": 0.9}

    server.responder = answer
    import_rows(store, 4)
    workflow = compile_workflow(tmp_path, provider)
    run(store, workflow, get_settings(), lane="batch")
    errored = {
        r.custom_id
        for r in store.batch_requests(store.batches("demo")[0].key).values()
        if r.row_id == "row2"
    }
    server.end(errored=errored)
    run(store, workflow, get_settings(), lane="batch")
    results = store.results("demo", ["grade"])
    judge = {row_id: row[("grade", "judge")] for row_id, row in results.items()}
    assert judge["row3"].status == OK and judge["row3"].outputs["confidence"] == 0.9
    for bad in ("row0", "row1", "row2"):
        assert judge[bad].status == FAILED and judge[bad].outputs is None
        assert ("grade", "label") not in results[bad]  # a failed row goes no further
    assert "invalid" in (judge["row0"].error or "")
    assert "confidence" in (judge["row1"].error or "")
    assert "refused" in (judge["row2"].error or "")
    # The run that collected them did not ask again at once (an answer that is always
    # invalid would loop); the next run asks the failed rows again, like any failed row.
    assert len(store.batches("demo")) == 1
    again = run(store, workflow, get_settings(), lane="batch")
    assert again.waiting == 3


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_an_expired_batch_fails_its_unanswered_rows(
    store: LeadStore, tmp_path: Path, provider: str, request: pytest.FixtureRequest
) -> None:
    server = request.getfixturevalue(f"{provider}_batches")
    import_rows(store, 6)
    workflow = compile_workflow(tmp_path, provider)
    run(store, workflow, get_settings(), lane="batch")
    server.end(expire=True)  # half the lines expire unanswered
    run(store, workflow, get_settings(), lane="batch")
    judge = [row[("grade", "judge")] for row in store.results("demo", ["grade"]).values()]
    assert sum(j.status == OK for j in judge) == 3
    expired = [j for j in judge if j.status == FAILED]
    assert len(expired) == 3 and all("expired" in (j.error or "") for j in expired)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_cancelled_batch_fails_its_rows_and_the_next_run_asks_again(
    store: LeadStore,
    tmp_path: Path,
    provider: str,
    request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = request.getfixturevalue(f"{provider}_batches")
    import_rows(store, 3)
    workflow = compile_workflow(tmp_path, provider)
    run(store, workflow, get_settings(), lane="batch")
    (record,) = store.batches("demo")
    monkeypatch.setenv("LEAD_PIPELINE_DB_URL", store.url)  # the command opens this store
    reset_settings()
    assert main(["batches", "cancel", record.batch_id]) == 0
    assert "asked" in capsys.readouterr().out
    server.end()  # the provider settles the cancellation
    run(store, workflow, get_settings(), lane="batch")
    judge = [row[("grade", "judge")] for row in store.results("demo", ["grade"]).values()]
    assert all(j.status == FAILED and "cancel" in (j.error or "") for j in judge)
    assert [b.state for b in store.batches("demo")] == ["collected"]
    again = run(store, workflow, get_settings(), lane="batch")
    assert again.waiting == 3 and len(store.batches("demo")) == 2


def test_max_cost_refuses_a_batch_that_would_pass_it(
    store: LeadStore, tmp_path: Path, openai_batches: OpenAIBatchServer, monkeypatch
) -> None:
    # $1 per million input tokens and $2 per million output tokens, half in the batch lane.
    monkeypatch.setenv("LEAD_PIPELINE_PRICES", json.dumps({"gpt-4o-mini": [1.0, 2.0]}))
    reset_settings()
    import_rows(store, 5)
    workflow = compile_workflow(tmp_path, "openai")
    # Each question may cost about (1,100 input tokens * $1 + 4,096 output * $2) / 2 / 1e6:
    # ~$0.0046; five of them ~$0.023, more than the cap.
    summary = run(store, workflow, get_settings(), lane="batch", max_cost=0.01)
    assert summary.batches == [] and openai_batches.count("/v1/batches") == 0
    assert "max_cost" in (summary.batch_refusal or "")
    assert store.waiting_rows("demo", "grade") == {}  # nothing waits: the next run may ask
    ok = run(store, workflow, get_settings(), lane="batch", max_cost=1.0)
    assert len(ok.batches) == 1 and ok.batches[0].price <= 1.0


def test_batch_price_is_half_and_can_be_overridden(
    store: LeadStore, tmp_path: Path, openai_batches: OpenAIBatchServer, monkeypatch
) -> None:
    openai_batches.usage = (1_000, 100)
    prices = {"gpt-4o-mini": [1.0, 2.0]}
    monkeypatch.setenv("LEAD_PIPELINE_PRICES", json.dumps(prices))
    reset_settings()
    import_rows(store, 2)
    workflow = compile_workflow(tmp_path, "openai")
    run(store, workflow, get_settings(), lane="batch")
    openai_batches.end()
    run(store, workflow, get_settings(), lane="batch")
    sync_price = (1_000 * 1.0 + 100 * 2.0) / 1e6
    for row in store.results("demo", ["grade"]).values():
        assert row[("grade", "judge")].cost == pytest.approx(sync_price / 2)
    # A negotiated batch rate, by "<model>:batch".
    monkeypatch.setenv(
        "LEAD_PIPELINE_PRICES", json.dumps({**prices, "gpt-4o-mini:batch": [0.1, 0.1]})
    )
    reset_settings()
    run(store, workflow, get_settings(), lane="batch", force=True, refresh=True)
    openai_batches.end()
    run(store, workflow, get_settings(), lane="batch")
    batch_rate = (1_000 * 0.1 + 100 * 0.1) / 1e6
    for row in store.results("demo", ["grade"]).values():  # every attempt stays counted
        assert row[("grade", "judge")].cost == pytest.approx(sync_price / 2 + batch_rate)


def test_the_cache_answers_before_anything_is_submitted(
    store: LeadStore, tmp_path: Path, openai_batches: OpenAIBatchServer
) -> None:
    import_rows(store, 4)
    workflow = compile_workflow(tmp_path, "openai")
    synchronous = run(store, workflow, get_settings())  # the sync lane fills the cache
    assert synchronous.ok == 4 and openai_batches.count("/v1/chat/completions") == 4
    again = run(store, workflow, get_settings(), lane="batch", force=True)
    assert again.batches == [] and again.ok == 4 and openai_batches.count("/v1/files") == 0


def test_an_anthropic_results_url_on_another_host_is_refused(
    store: LeadStore, tmp_path: Path, anthropic_batches: AnthropicBatchServer
) -> None:
    import_rows(store, 2)
    workflow = compile_workflow(tmp_path, "anthropic")
    run(store, workflow, get_settings(), lane="batch")
    anthropic_batches.results_host = "http://127.0.0.2:9"  # the key must not go there
    anthropic_batches.end()
    summary = run(store, workflow, get_settings(), lane="batch")
    assert summary.waiting_on_batch == 2  # not collected: still waiting, nothing lost
    assert store.batches("demo")[0].state == "ended"


def test_a_collected_answer_answers_the_synchronous_lane_too(
    store: LeadStore, tmp_path: Path, openai_batches: OpenAIBatchServer
) -> None:
    import_rows(store, 3)
    workflow = compile_workflow(tmp_path, "openai")
    run(store, workflow, get_settings(), lane="batch")
    openai_batches.end()
    run(store, workflow, get_settings(), lane="batch")
    again = run(store, workflow, get_settings(), force=True)  # the sync lane, every row
    assert again.ok == 3 and openai_batches.count("/v1/chat/completions") == 0


@pytest.mark.slow(minutes=1)
def test_five_thousand_rows_split_by_the_count_limit(
    store: LeadStore, tmp_path: Path, openai_batches: OpenAIBatchServer, monkeypatch
) -> None:
    # Sized to cross every bulk boundary on the way (2,000 questions per insert, 2,000
    # results per commit) at half the 10,000 rows this test used to take (31 s CPU).
    monkeypatch.setenv("LEAD_PIPELINE_BATCH_MAX_REQUESTS", "2100")
    reset_settings()
    import_rows(store, 5_000)
    workflow = compile_workflow(tmp_path, "openai")
    # One shard submits in as few batches as the limit allows (each shard submits its own).
    summary = run(store, workflow, get_settings(), lane="batch", parallel=50, max_shards=1)
    assert sorted(b.rows for b in summary.batches) == [800, 2100, 2100]
    assert summary.waiting == 5_000 and len(store.waiting_rows("demo", "grade")) == 5_000
    openai_batches.end()
    run(store, workflow, get_settings(), lane="batch", parallel=50)
    results = store.results("demo", ["grade"])
    assert sum(r[("grade", "label")].status == OK for r in results.values()) == 5_000


def test_the_plan_shows_each_lane_price_for_an_llm_node(
    store: LeadStore, tmp_path: Path, openai_batches: OpenAIBatchServer
) -> None:
    from lead_pipeline.engine.options import RunOptions
    from lead_pipeline.engine.workflow_run import WorkflowRun

    import_rows(store, 3)
    workflow = compile_workflow(tmp_path, "openai")
    plan = WorkflowRun(store, workflow, "demo", RunOptions(), settings=get_settings()).plan()
    [line] = [line for line in plan.lines if "lane batch" in line]
    assert "lane sync" in line and "within 24 h" in line
    assert openai_batches.count() == 0  # the plan calls no provider


def test_rows_asking_the_same_question_send_one_line(
    store: LeadStore, tmp_path: Path, openai_batches: OpenAIBatchServer
) -> None:
    twins = {"name": "Acme", "product": "invoices"}
    store.import_rows("demo", [("a", twins), ("b", dict(twins)), ("c", {**twins, "name": "B"})])
    workflow = compile_workflow(tmp_path, "openai")
    summary = run(store, workflow, get_settings(), lane="batch")
    (batch_id,) = openai_batches.batches
    assert len(openai_batches.lines(batch_id)) == 2 and summary.batches[0].rows == 3
    openai_batches.end()
    run(store, workflow, get_settings(), lane="batch")
    judge = {k: r[("grade", "judge")] for k, r in store.results("demo", ["grade"]).items()}
    assert all(j.status == OK for j in judge.values())
    assert sorted(j.cost > 0 for j in judge.values()) == [False, True, True]  # one was free
