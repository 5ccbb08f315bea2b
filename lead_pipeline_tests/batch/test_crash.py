"""``kill -9`` at each point of a submission leaves exactly one batch for those rows.

A child process runs the batch lane; the stand-in holds its request at the chosen
point and the test kills the child there: before the server reads the first request
(the record written, the provider told nothing: the request is then dropped), or
after the server did a request's work, before it answers. The next run must find the
batch again, or find that none was made, and submit only then.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from lead_pipeline.settings import get_settings
from lead_pipeline.store import LeadStore
from lead_pipeline_tests.batch.conftest import compile_workflow, import_rows, run
from lead_pipeline_tests.servers.llm_batch import AnthropicBatchServer, OpenAIBatchServer

CHILD = """\
import sys
from pathlib import Path

from lead_pipeline.engine.registry import registry
from lead_pipeline.workflows.loader import load_workflows
from lead_pipeline.settings import get_settings
from lead_pipeline.store import LeadStore
from lead_pipeline_tests.batch.conftest import run

store = LeadStore(sys.argv[1])
(workflow,) = load_workflows([Path(sys.argv[2])], builtin_dirs=[], node_types=registry())
run(store, workflow, get_settings(), lane="batch")
"""

# (provider, the request held when the child is killed, held before the server reads it,
# what the provider holds then): every point between writing the record and recording the
# provider's batch id (engine/batch_lane.py's _submit_one).
POINTS = [
    ("openai", "/v1/files", True, "the record written, nothing sent to the provider"),
    ("openai", "/v1/files", False, "the file uploaded, no batch created, the record written"),
    ("openai", "/v1/batches", False, "the batch created, its id never recorded"),
    ("anthropic", "/v1/messages/batches", True, "the record written, nothing sent"),
    ("anthropic", "/v1/messages/batches", False, "the batch created, its id never recorded"),
]


def kill_at(
    server: OpenAIBatchServer | AnthropicBatchServer,
    arrived: threading.Event,
    store: LeadStore,
    workflows: Path,
) -> None:
    """Submit in a child process and ``kill -9`` it once the held request has arrived."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, store.url, str(workflows)],
        env={**os.environ, **server.env()},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert arrived.wait(timeout=300), "the child never reached the held request"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
    finally:
        server.release()
        if child.poll() is None:
            child.kill()


@pytest.mark.parametrize(("provider", "held", "before", "why"), POINTS)
def test_kill_9_during_submission_leaves_one_batch(
    store: LeadStore,
    tmp_path: Path,
    provider: str,
    held: str,
    before: bool,
    why: str,
    request: pytest.FixtureRequest,
) -> None:
    server: OpenAIBatchServer | AnthropicBatchServer = request.getfixturevalue(
        f"{provider}_batches"
    )
    import_rows(store, 8)
    workflow = compile_workflow(tmp_path, provider)
    kill_at(server, server.hold(held, before=before), store, tmp_path / f"wf-{provider}")
    records = store.batches("demo")
    assert len(records) == 1 and records[0].state == "submitting", why
    made_before = len(server.batches)
    if before:  # the provider was told nothing: no file, no batch
        assert made_before == 0 and not getattr(server, "files", {}), why
    summary = run(store, workflow, get_settings(), lane="batch")
    assert len(server.batches) == 1, f"{why}: {len(server.batches)} batches at the provider"
    (record,) = store.batches("demo")
    assert record.batch_id in server.batches and record.rows == 8
    # Found again (nothing submitted now), or never made (submitted once now).
    assert len(summary.batches) == (0 if made_before else 1)
    assert len(store.waiting_rows("demo", "grade")) == 8
    server.end()
    run(store, workflow, get_settings(), lane="batch")
    assert len(store.results("demo", ["grade"])) == 8


def test_an_anthropic_record_matching_two_batches_is_left_waiting_not_guessed(
    store: LeadStore, tmp_path: Path, anthropic_batches: AnthropicBatchServer
) -> None:
    import httpx2

    from lead_pipeline.engine.batch_lane import lists_to_collect, poll_batches

    server = anthropic_batches
    import_rows(store, 8)
    workflow = compile_workflow(tmp_path, "anthropic")
    kill_at(server, server.hold("/v1/messages/batches"), store, tmp_path / "wf-anthropic")
    # Someone else's batch of the same size, created at the same time.
    other = [{"custom_id": f"x{i}", "params": {"max_tokens": 5}} for i in range(8)]
    httpx2.post(
        f"{server.base_url}/v1/messages/batches",
        json={"requests": other},
        headers={"x-api-key": server.api_key, "anthropic-version": "2023-06-01"},
    ).raise_for_status()
    summary = run(store, workflow, get_settings(), lane="batch")
    assert len(server.batches) == 2 and summary.batches == []  # nothing submitted again
    assert summary.waiting_on_batch == 8
    (record,) = store.batches("demo")
    assert record.state == "unresolved" and record.batch_id is None
    # Neither --wait nor the sensor spins on it.
    assert poll_batches(store, "demo", get_settings()).ended == 0
    assert lists_to_collect(store, get_settings()).lists == {}
