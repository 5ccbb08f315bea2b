"""``enrich --lane batch`` as a user runs it: through Dagster, in a subprocess; then
``status``, ``batches``, ``--wait`` and ``batches cancel``; and ``kill -9`` at each
point of a submission leaving exactly one batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lead_pipeline.store import OK, LeadStore
from lead_pipeline_tests.batch.conftest import WORKFLOW
from lead_pipeline_tests.servers.llm_batch import OpenAIBatchServer

pytestmark = pytest.mark.slow(minutes=1)


@pytest.fixture
def home(tmp_path: Path, _isolated_settings: Path) -> dict[str, str]:
    """A data folder with a 5-row lead list and the workflow, as environment variables."""
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "grade.yaml").write_text(WORKFLOW.replace("BACKEND", "openai"))
    leads = tmp_path / "demo.json"
    rows = [
        {"name": f"Company {i}", "product": f"tool {i}", "website": f"c{i}.com"} for i in range(5)
    ]
    leads.write_text(json.dumps(rows))
    env = {
        "LEAD_PIPELINE_WORKFLOWS": str(folder),
        "LEAD_PIPELINE_BATCH_POLL_S": "0.2",
        "COLUMNS": "250",
    }
    done = cli("import", str(leads), "--lead", "demo", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return env


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lead_pipeline.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=300,
    )


def enrich(env: dict[str, str], *more: str) -> subprocess.CompletedProcess[str]:
    return cli("enrich", "--lead", "demo", "--workflow", "grade", "--yes", *more, env=env)


def test_submit_status_wait(home: dict[str, str], openai_batches: OpenAIBatchServer) -> None:
    env = {**home, **openai_batches.env()}
    first = enrich(env, "--lane", "batch")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "submitted 1 LLM batch(es) holding 5 questions" in first.stdout
    assert "lead-pipeline batches --lead demo" in first.stdout
    assert "5 waiting on LLM batches" in first.stdout
    status = cli("status", "--lead", "demo", env=env)
    assert "waiting" in status.stdout, status.stdout
    listed = cli("batches", "--lead", "demo", env=env)
    (batch_id,) = openai_batches.batches
    assert batch_id in listed.stdout and "open" in listed.stdout
    # --wait polls with a progress line until the batch ends, then collects it.
    waiter = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lead_pipeline.cli",
            "enrich",
            "--lead",
            "demo",
            "--workflow",
            "grade",
            "--yes",
            "--lane",
            "batch",
            "--wait",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **env},
    )
    assert waiter.stdout is not None
    for line in waiter.stdout:  # the first poll has been answered: now end the batch
        if "LLM batches:" in line:
            openai_batches.end()
            break
    out, _ = waiter.communicate(timeout=300)
    assert waiter.returncode == 0, out
    assert openai_batches.count("/v1/batches") == 1  # never submitted twice
    store = LeadStore()
    try:
        results = store.results("demo", ["grade"])
        assert len(results) == 5
        assert all(r[("grade", "label")].status == OK for r in results.values())
        assert store.batches("demo")[0].state == "collected"
    finally:
        store.dispose()
