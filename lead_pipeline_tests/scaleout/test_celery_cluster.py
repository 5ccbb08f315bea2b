"""The chain on Dagster's Celery executor for real: Redis, two workers, PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import dagster as dg
import pytest

from lead_pipeline.store import LeadStore
from lead_pipeline_tests.conftest import REPO_ROOT
from lead_pipeline_tests.defs.test_chain_end_to_end import founder_results
from lead_pipeline_tests.scaleout.cluster import Cluster
from lead_pipeline_tests.servers import OpenAIServer, SerperServer

pytestmark = [pytest.mark.slow(minutes=1), pytest.mark.postgres]
SAMPLE = REPO_ROOT / "data" / "leads" / "yc-f25.json"
# Four shards per workflow: enough steps at once for both workers.
RUN_OPTIONS = ["--parallel", "8", "--shard-size", "25", "--max-shards", "4"]


def cli(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lead_pipeline.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def step_workers(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> dict[str, set[str]]:
    """Celery worker of each step, from the engine events in the run's event log."""
    for key, value in cluster.client_env().items():
        monkeypatch.setenv(key, value)
    by_step: dict[str, set[str]] = {}
    with dg.DagsterInstance.get() as instance:
        for run in instance.get_runs():
            for record in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
                event = record.dagster_event
                data: Any = event.engine_event_data if event else None
                worker = data.metadata.get("Celery worker") if data else None
                if worker is not None:
                    by_step.setdefault(str(event.step_key), set()).add(str(worker.value))
    return by_step


def test_chain_runs_on_two_celery_workers(cluster: Cluster, monkeypatch) -> None:
    with OpenAIServer() as llm, SerperServer(results=founder_results) as serper:
        cluster.extra_env.update({**llm.env(), **serper.env()})
        env = cluster.client_env()
        # First: it makes Dagster's tables, which workers starting together would race to make.
        imported = cli(env, "import", str(SAMPLE), "--lead", "yc-f25")
        assert imported.returncode == 0, imported.stderr
        cluster.start_worker("w1")
        cluster.start_worker("w2")
        cluster.wait_ready()
        done = cli(env, "enrich", "--lead", "yc-f25", "--workflow", "all", *RUN_OPTIONS)
        assert done.returncode == 0, done.stdout + done.stderr + cluster.logs()

        store = LeadStore(cluster.leads_url)
        try:
            frame = store.wide_frame("yc-f25").set_index("_id")
        finally:
            store.dispose()
        # Rows with neither a one-liner nor a description are skipped (no evidence).
        rows = json.loads(SAMPLE.read_text())
        texts = [(r.get("one_liner") or "") + (r.get("long_description") or "") for r in rows]
        without_text = sum(not text.strip() for text in texts)
        assert len(frame) == 148 and frame["is_b2b"].notna().sum() == 148 - without_text
        b2b = frame[frame["is_b2b"] == True]  # noqa: E712
        assert len(b2b) > 0 and b2b["founders"].map(len).eq(1).all()
        assert serper.count("/search") == len(b2b)

    by_step = step_workers(cluster, monkeypatch)
    shards = {k: v for k, v in by_step.items() if "__run_shard" in k}
    assert len(shards) == 8, by_step  # four shards of each workflow, each on a worker
    hosts = {w.split("@")[0] for workers in by_step.values() for w in workers}
    assert hosts == {"w1", "w2"}, by_step
