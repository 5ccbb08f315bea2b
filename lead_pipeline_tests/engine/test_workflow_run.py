"""A workflow run from check to close, driven without Dagster: what a run means is the
engine's (``engine/workflow_run.py``); the Dagster steps only call it."""

from __future__ import annotations

import logging

import pytest

from lead_pipeline.engine import (
    CompiledWorkflow,
    RowsFailed,
    RunOptions,
    RunRefused,
    RunRequest,
    UnknownList,
    WorkflowRun,
    run_options,
)
from lead_pipeline.store import LeadStore
from lead_pipeline_tests.engine.conftest import CompanyApi


def _run(store: LeadStore, workflow: CompiledWorkflow, owner: str = "run-a", **kw) -> WorkflowRun:
    return WorkflowRun(store, workflow, "demo", RunOptions(parallel=3), owner=owner, **kw)


def _whole(run: WorkflowRun):
    """As the Dagster steps do it: the shards carry the rows, the summary gets the counts."""
    run.check()
    selection = run.select()
    shards = [run.run_shard(s) for s in run.shards(selection)]
    return selection, run.close(selection.counts_only(), shards)


def test_a_run_selects_runs_its_shards_and_closes_its_record(
    leads: LeadStore, workflows: dict[str, CompiledWorkflow], api: CompanyApi
) -> None:
    run = _run(leads, workflows["scoring"])
    assert run.nothing_to_do() is None  # rows without results: work
    selection, summary = _whole(run)

    assert (summary.ok, summary.failed, summary.skipped, summary.total_rows) == (6, 0, 1, 7)
    [record] = leads.recent_runs("demo")
    assert record["id"] == selection.store_run_id == summary.store_run_id
    assert record["status"] == "succeeded" and record["ok"] == 6
    assert record["params"]["selected"] == 6 and record["finished_at"] is not None
    assert summary.selected == 6 and summary.up_to_date == 0 and summary.not_eligible == 1
    handed = selection.counts_only()
    assert handed.work == [] and handed.selected == 6 and not handed.nothing_to_do
    assert selection.started_at > 0
    assert leads.run_lock("demo", "scoring") is None  # closing frees the lock

    again = run.nothing_to_do()  # every row up to date: a run need not start
    assert again is not None and again.up_to_date == 6 and again.not_eligible == 1
    assert len(leads.recent_runs("demo")) == 1  # deciding that wrote nothing


def test_a_run_is_refused_while_another_holds_the_list_and_writes_nothing(
    leads: LeadStore, workflows: dict[str, CompiledWorkflow], api: CompanyApi
) -> None:
    assert leads.acquire_run_lock("demo", "scoring", "run-a", 120.0).acquired
    refused = "'scoring' on list 'demo' is already running in run run-a"
    with pytest.raises(RunRefused, match=refused):
        _run(leads, workflows["scoring"], owner="run-b").select()
    assert leads.recent_runs("demo") == [] and leads.results("demo") == {}
    assert api.count("/profile") == 0


def test_a_lock_whose_run_ended_is_taken_over_and_said(
    leads: LeadStore,
    workflows: dict[str, CompiledWorkflow],
    api: CompanyApi,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert leads.acquire_run_lock("demo", "scoring", "run-a", 120.0).acquired
    run = _run(leads, workflows["scoring"], owner="run-b", owner_ended=lambda o: o == "run-a")
    with caplog.at_level(logging.WARNING):
        _, summary = _whole(run)
    assert summary.ok == 6
    assert "took over the run lock of scoring on demo from run run-a" in caplog.text


def test_a_run_where_most_rows_fail_is_closed_as_failed(
    leads: LeadStore, workflows: dict[str, CompiledWorkflow], api: CompanyApi
) -> None:
    api.fail_names = {"Acme", "Globex", "Initech", "Umbrella"}
    run = _run(leads, workflows["scoring"])
    selection = run.select()
    shards = [run.run_shard(s) for s in run.shards(selection)]
    with pytest.raises(RowsFailed) as failed:
        run.close(selection, shards)
    assert str(failed.value).startswith(
        "4 of 6 processed rows failed (67%; a run fails above 50%). "
        "See them all with: lead-pipeline errors --lead demo --workflow scoring\n"
    )
    assert "profile: http: GET /profile answered HTTP 404" in failed.value.causes
    [record] = leads.recent_runs("demo")
    assert (record["status"], record["ok"], record["failed"]) == ("failed", 2, 4)
    assert leads.run_lock("demo", "scoring") is None


def test_a_run_that_cannot_start_says_why_before_anything_is_written(
    store: LeadStore, workflows: dict[str, CompiledWorkflow]
) -> None:
    with pytest.raises(UnknownList, match="nowhere"):
        WorkflowRun(store, workflows["scoring"], "nowhere", RunOptions()).check()
    request = RunRequest(params={"threshhold": "0.5"})
    with pytest.raises(RunRefused, match="unknown workflow parameter"):
        run_options(request, workflows["scoring"], known_params=[])


def test_a_plan_only_run_prices_and_writes_nothing(
    leads: LeadStore, workflows: dict[str, CompiledWorkflow], api: CompanyApi
) -> None:
    planned = _run(leads, workflows["scoring"]).plan()
    assert planned.plan.rows == 6 and planned.selection.work == []
    assert any("scoring" in line for line in planned.lines)
    assert leads.recent_runs("demo") == [] and leads.run_lock("demo", "scoring") is None
    assert api.count("/profile") == 0
