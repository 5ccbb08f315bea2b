"""Runs at the same time: one run per workflow and list, and many rows in flight at once."""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from lead_pipeline.defs.partitions import instance as dagster_instance
from lead_pipeline.store import FAILED, LeadStore
from lead_pipeline_tests.reliability.harness import (
    LEAD,
    NODES,
    WORKFLOW,
    WORKFLOW_YAML,
    Enrich,
    RowApi,
    cli_env,
    enrich_args,
    lead_rows,
    ok_nodes,
    trusted,
    write_workflow,
)
from lead_pipeline_tests.servers import Reply

pytestmark = pytest.mark.slow


def test_a_second_run_of_the_same_workflow_on_the_same_list_is_refused(tmp_path: Path) -> None:
    rows = lead_rows(12)
    with RowApi() as api:
        env = cli_env(
            write_workflow(tmp_path / "wf", WORKFLOW_YAML.format(base=api.root_url)),
            # The held calls wait for the whole second command; on a busy machine that is
            # longer than the default read timeout, whose retry would be a second call.
            LEAD_PIPELINE_TIMEOUTS=json.dumps({"total": 900, "read": 900}),
            **trusted(api),
        )
        store = LeadStore()
        store.import_rows(LEAD, rows)
        api.hold_after(3)  # the first run is mid-way, holding the list, while the second starts
        first = Enrich(env, tmp_path / "first", *enrich_args())
        first.reaches(api.tripped.is_set, "the held call")
        second = Enrich(env, tmp_path / "second", *enrich_args()).wait()
        api.release()
        done = first.wait()

    assert done.code == 0, done.output
    assert second.code == 3, second.output  # the workflow could not run (README: exit codes)
    [running] = [
        r for r in dagster_instance().get_runs() if r.status == dg.DagsterRunStatus.SUCCESS
    ]
    # The refusal is part of the run's closing report (stdout), wrapped to the terminal.
    message = " ".join(second.output.split())
    assert f"workflow 'scoring' on list 'crm' is already running in run {running.run_id}" in message
    assert "wait for it to finish" in message and "Traceback" not in second.output
    # Nothing lost, nothing twice: one call and one write per node and row.
    assert api.snapshot() == Counter({(row, node): 1 for row, _ in rows for node in NODES})
    results = store.results(LEAD, [WORKFLOW])
    assert {r.attempts for found in results.values() for r in found.values()} == {1}
    assert len(ok_nodes(store)) == len(rows) * len(NODES)
    [record] = store.recent_runs(LEAD)  # the refused run wrote nothing, not even a run record
    assert (record["status"], record["ok"], record["failed"]) == ("succeeded", len(rows), 0)
    assert store.run_lock(LEAD, WORKFLOW) is None
    assert f"done: {len(rows)} ok, 0 failed" in done.stdout


IN_FLIGHT = 100


class WaveApi(RowApi):
    """Holds the first calls until ``IN_FLIGHT`` of them are open at once, then lets them
    all go together: both shard processes then save a hundred results in the same instant."""

    def __init__(self, **knobs: Any) -> None:
        super().__init__(**knobs)
        self.wave = threading.Event()

    def answer(self, node: str, body: dict[str, Any]) -> Reply:
        if not self.wave.is_set():
            if self.in_flight >= IN_FLIGHT:
                self.wave.set()
            else:
                self.wave.wait(timeout=90)
        return super().answer(node, body)


def test_a_hundred_rows_in_flight_across_processes(db_url: str, tmp_path: Path) -> None:
    """SQLite and PostgreSQL: two shard processes, 50 rows in flight each, 1000 writes."""
    rows = lead_rows(500)
    with WaveApi() as api:
        env = cli_env(
            write_workflow(tmp_path / "wf", WORKFLOW_YAML.format(base=api.root_url)),
            LEAD_PIPELINE_DB_URL=db_url,
            **trusted(api),
        )
        store = LeadStore(db_url)
        store.import_rows(LEAD, rows)
        args = enrich_args("--max-shards", "2", "--shard-size", "250", parallel=IN_FLIGHT)
        done = Enrich(env, tmp_path / "run", *args).wait()
    try:
        assert done.code == 0, done.output
        assert api.wave.is_set() and api.max_in_flight == IN_FLIGHT
        assert "locked" not in done.output.lower()
        failed = [
            r.error
            for found in store.results(LEAD).values()
            for r in found.values()
            if r.status == FAILED
        ]
        assert failed == []
        assert len(ok_nodes(store)) == len(rows) * len(NODES)
        assert api.snapshot() == Counter({(row, node): 1 for row, _ in rows for node in NODES})
        [record] = store.recent_runs(LEAD)
        assert (record["ok"], record["failed"]) == (len(rows), 0)
        assert f"done: {len(rows)} ok, 0 failed" in done.stdout
    finally:
        store.dispose()
