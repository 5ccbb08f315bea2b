"""The shard's side of the run lock: it heartbeats while rows run, and stops starting
rows once another run has taken the lock over."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from lead_pipeline.engine.compile import CompiledWorkflow
from lead_pipeline.engine.options import RunOptions
from lead_pipeline.engine.registry import registry
from lead_pipeline.engine.runlock import STALE_ENV, LockKeeper, LockLost, stale_after_s
from lead_pipeline.engine.runner import run_shard
from lead_pipeline.engine.selection import make_shards, select_rows
from lead_pipeline.providers.urlguard import TRUSTED_HOSTS_ENV
from lead_pipeline.store import LeadStore
from lead_pipeline.workflows.loader import load_workflows
from lead_pipeline_tests.reliability.harness import (
    LEAD,
    WORKFLOW,
    WORKFLOW_YAML,
    RowApi,
    lead_rows,
    wait_for,
    write_workflow,
)

STALE = 2.0  # heartbeats every 0.5 s


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[RowApi]:
    with RowApi() as server:
        monkeypatch.setenv(TRUSTED_HOSTS_ENV, f"127.0.0.1:{server.port}")
        yield server


@pytest.fixture
def scoring(api: RowApi, tmp_path: Path) -> CompiledWorkflow:
    folder = write_workflow(tmp_path / "wf", WORKFLOW_YAML.format(base=api.root_url))
    (workflow,) = load_workflows([folder], builtin_dirs=[], node_types=registry())
    return workflow


def test_a_shard_heartbeats_and_stops_when_its_lock_is_taken_over(
    api: RowApi, scoring: CompiledWorkflow
) -> None:
    store = LeadStore()
    store.import_rows(LEAD, lead_rows(12))
    options = RunOptions(parallel=2)
    [shard] = make_shards(select_rows(store, scoring, LEAD, options), options)
    taken = store.acquire_run_lock(LEAD, WORKFLOW, "run-a", STALE)
    keeper = LockKeeper(store, LEAD, WORKFLOW, "run-a", STALE)
    outcome: dict[str, BaseException] = {}

    def shard_main() -> None:
        try:
            run_shard(store, scoring, shard, options, lock=keeper)
        except BaseException as exc:
            outcome["error"] = exc

    api.hold_after(3)  # two rows in flight, held at the server
    runner = threading.Thread(target=shard_main)
    runner.start()
    assert api.tripped.wait(timeout=60)

    # While rows run, the shard heartbeats: the lock stays fresh and is not taken.
    first_beat = taken.holder.heartbeat_at
    wait_for(lambda: store.run_lock(LEAD, WORKFLOW).heartbeat_at > first_beat, "a heartbeat")
    beat = store.run_lock(LEAD, WORKFLOW).heartbeat_at  # type: ignore[union-attr]
    assert not store.acquire_run_lock(LEAD, WORKFLOW, "run-b", STALE, now=beat).acquired

    # Another run takes it over (as when this run was declared dead): the shard notices,
    # lets its rows in flight finish, starts no other row and says why.
    assert store.acquire_run_lock(LEAD, WORKFLOW, "run-b", STALE, take_from="run-a").acquired
    wait_for(lambda: keeper.lost, "the shard to notice")
    api.release()
    runner.join(timeout=60)
    assert isinstance(outcome.get("error"), LockLost)
    assert "taken over by run run-b" in str(outcome["error"])
    rows_called = {row for row, _ in api.snapshot()}
    assert len(rows_called) == 3  # the rows already started, not the other nine
    assert store.run_lock(LEAD, WORKFLOW).owner == "run-b"  # type: ignore[union-attr]


def test_a_lock_that_vanished_is_taken_again_by_the_heartbeat() -> None:
    store = LeadStore()
    store.import_rows(LEAD, lead_rows(1))
    keeper = LockKeeper(store, LEAD, WORKFLOW, "run-a", STALE)
    assert keeper.beat()  # nobody held it: the heartbeat takes it
    assert store.run_lock(LEAD, WORKFLOW).owner == "run-a"  # type: ignore[union-attr]
    store.acquire_run_lock(LEAD, WORKFLOW, "run-b", STALE, take_from="run-a")
    assert not keeper.beat() and keeper.lost and keeper.lost_to.owner == "run-b"  # type: ignore[union-attr]


@pytest.mark.parametrize(("value", "expected"), [(None, 120.0), ("30", 30.0), ("0.5", 0.5)])
def test_stale_threshold_from_the_environment(
    value: str | None, expected: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    if value is None:
        monkeypatch.delenv(STALE_ENV, raising=False)
    else:
        monkeypatch.setenv(STALE_ENV, value)
    assert stale_after_s() == expected


@pytest.mark.parametrize("value", ["soon", "0", "-5"])
def test_a_bad_stale_threshold_names_the_variable(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(STALE_ENV, value)
    with pytest.raises(ValueError, match=STALE_ENV):
        stale_after_s()
