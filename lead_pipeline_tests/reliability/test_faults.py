"""A provider that misbehaves in every way at once: each row ends ok or failed with its
reason, the counts agree everywhere, and the Dagster run itself succeeds."""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from lead_pipeline.defs.partitions import instance as dagster_instance
from lead_pipeline.providers import RetryPolicy, Timeouts
from lead_pipeline.providers.session import configured_retry, configured_timeouts
from lead_pipeline.settings import SettingsError, env_name, get_settings
from lead_pipeline.store import FAILED, OK, LeadStore
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
    trusted,
    write_workflow,
)
from lead_pipeline_tests.servers import Reply

pytestmark = pytest.mark.slow

RETRY_ENV = env_name("retry")
TIMEOUTS_ENV = env_name("timeouts")

ATTEMPTS = 3
TIMEOUT_S = 1.0
SLOW_S = 3.0
# What the first node's provider does to each kind of row (row index modulo 8), and
# what the row's stored error must say. None: the row must end ok.
KINDS: list[tuple[str, str | None]] = [
    ("fine", None),
    ("500 every time", f"answered HTTP 500 (attempt {ATTEMPTS} of {ATTEMPTS})"),
    ("truncated JSON body", "body that is not JSON (truncated?)"),
    ("connection cut mid-body", "RemoteProtocolError"),
    ("slower than the timeout", f"timed out (attempt {ATTEMPTS} of {ATTEMPTS})"),
    ("429 storm", f"still rate limited (HTTP 429) after {ATTEMPTS} attempts"),
    ("one 500, then fine", None),
    ("one 429, then fine", None),
]
ROWS = lead_rows(3 * len(KINDS))


def kind_of(row_id: str) -> int:
    return int(row_id.removeprefix("row")) % len(KINDS)


class FaultyApi(RowApi):
    def __init__(self, **knobs: Any) -> None:
        super().__init__(**knobs)
        self.attempts: Counter[str] = Counter()
        self._attempt_lock = threading.Lock()

    def answer(self, node: str, body: dict[str, Any]) -> Reply:
        if node != "first":
            return super().answer(node, body)
        with self._attempt_lock:
            self.attempts[body["row"]] += 1
            attempt = self.attempts[body["row"]]
        fine = super().answer(node, body)
        storm = Reply(
            status=429, json={"error": {"message": "slow down"}}, headers={"Retry-After": "0"}
        )
        match kind_of(body["row"]):
            case 1:
                return Reply(status=500, json={"error": {"message": "internal error"}})
            case 2:
                return Reply(body=json.dumps(fine.json)[:-3], content_type="application/json")
            case 3:
                return Reply(json=fine.json, truncate=True)
            case 4:
                return Reply(json=fine.json, delay=SLOW_S)
            case 5:
                return storm
            case 6 if attempt == 1:
                return Reply(status=500, json={"error": {"message": "flaky"}})
            case 7 if attempt == 1:
                return storm
        return fine


def test_every_row_ends_ok_or_failed_with_its_reason_and_the_counts_agree(
    tmp_path: Path,
) -> None:
    with FaultyApi() as api:
        env = cli_env(
            write_workflow(tmp_path / "wf", WORKFLOW_YAML.format(base=api.root_url)),
            **{
                RETRY_ENV: json.dumps({"max_attempts": ATTEMPTS, "base_delay": 0.05}),
                TIMEOUTS_ENV: json.dumps({"total": TIMEOUT_S}),
                **trusted(api),
            },
        )
        store = LeadStore()
        store.import_rows(LEAD, ROWS)
        done = Enrich(env, tmp_path / "run", *enrich_args(parallel=len(ROWS))).wait()

    # The faults are the rows', never the run's: every row ends ok or failed with its
    # reason. Five kinds of eight fail (62%), above the 50% at which a run fails, so
    # the run says so: exit code 1 (rows failed), not 3 (could not run).
    assert done.code == 1, done.output
    results = store.results(LEAD, [WORKFLOW])
    expected_ok = 0
    for row_id, _ in ROWS:
        name, reason = KINDS[kind_of(row_id)]
        first = results[row_id][(WORKFLOW, "first")]
        if reason is None:
            expected_ok += 1
            assert first.status == OK, (name, first.error)
            assert results[row_id][(WORKFLOW, "second")].status == OK
        else:
            assert first.status == FAILED, name
            assert reason in (first.error or ""), (name, first.error)
            assert (WORKFLOW, "second") not in results[row_id]  # a failed row stops there
    expected_failed = len(ROWS) - expected_ok

    # Retries as configured: failures retried up to ATTEMPTS times, bad JSON not at all.
    first_calls = Counter({row: n for (row, node), n in api.snapshot().items() if node == "first"})
    for row_id, _ in ROWS:
        wanted = {0: 1, 2: 1, 6: 2, 7: 2}.get(kind_of(row_id), ATTEMPTS)
        assert first_calls[row_id] == wanted, (KINDS[kind_of(row_id)][0], first_calls[row_id])

    # The counts agree: the database, the run record, the CLI and Dagster's metadata.
    [status] = store.status(LEAD, {WORKFLOW: list(NODES)}).workflows
    assert (status.ok, status.failed, status.pending) == (expected_ok, expected_failed, 0)
    [record] = store.recent_runs(LEAD)
    assert (record["status"], record["ok"], record["failed"]) == (
        "failed",
        expected_ok,
        expected_failed,
    )
    assert f"{expected_ok} ok, {expected_failed} failed" in record["message"]
    assert f"done: {expected_ok} ok, {expected_failed} failed" in done.stdout
    instance = dagster_instance()
    [run] = instance.get_runs()
    assert run.status == dg.DagsterRunStatus.FAILURE
    # The summarize step failed the run on purpose, with the counts in its metadata.
    events = [e for e in instance.all_logs(run.run_id) if e.is_dagster_event]
    [failure] = [e for e in events if e.dagster_event_type == dg.DagsterEventType.STEP_FAILURE]
    assert failure.step_key.endswith("__summarize")
    user = failure.dagster_event.step_failure_data.user_failure_data
    metadata = {k: v.value for k, v in user.metadata.items()}
    assert (metadata["ok"], metadata["failed"]) == (expected_ok, expected_failed)
    # No exception escaped a shard: no shard step failed, no step was retried.
    kinds = Counter(e.dagster_event_type for e in events)
    assert kinds[dg.DagsterEventType.STEP_UP_FOR_RETRY] == 0
    assert kinds[dg.DagsterEventType.STEP_SUCCESS] >= 2


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (RETRY_ENV, "{not json", "LEAD_PIPELINE_RETRY: not valid JSON: Expecting property name"),
        (RETRY_ENV, "[3]", "LEAD_PIPELINE_RETRY: expected a JSON object"),
        (RETRY_ENV, '{"max_attempts": 0}', "LEAD_PIPELINE_RETRY: max_attempts: .*equal to 1"),
        (RETRY_ENV, '{"max_attempts": 2.5}', "LEAD_PIPELINE_RETRY: max_attempts: .*integer"),
        (RETRY_ENV, '{"attempts": 2}', "LEAD_PIPELINE_RETRY: attempts: is not a setting"),
        (TIMEOUTS_ENV, '{"total": 0}', "LEAD_PIPELINE_TIMEOUTS: total: .*greater than 0"),
        (TIMEOUTS_ENV, '{"read": "soon"}', "LEAD_PIPELINE_TIMEOUTS: read: .*valid number"),
        (TIMEOUTS_ENV, '{"slow": 1}', "LEAD_PIPELINE_TIMEOUTS: slow: is not a setting"),
    ],
)
def test_bad_retry_and_timeout_settings_name_the_variable(
    name: str, value: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=message):
        configured_retry(get_settings()) if name == RETRY_ENV else configured_timeouts(
            get_settings()
        )


def test_retry_and_timeout_settings_reach_the_providers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(RETRY_ENV, '{"max_attempts": 2, "base_delay": 0.1}')
    monkeypatch.setenv(TIMEOUTS_ENV, '{"total": 5, "read": 4}')
    assert configured_retry(get_settings()) == RetryPolicy(max_attempts=2, base_delay=0.1)
    assert configured_timeouts(get_settings()) == Timeouts(total=5, connect=10.0, read=4)
    monkeypatch.delenv(RETRY_ENV)
    monkeypatch.delenv(TIMEOUTS_ENV)
    assert configured_retry(get_settings()) is None and configured_timeouts(get_settings()) is None
