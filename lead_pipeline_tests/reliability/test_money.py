"""The cost cap is a promise: ``lead-pipeline enrich --max-cost`` as a user runs it.

Against People Data Labs' stand-in ($0.28 a match by ``LEAD_PIPELINE_PRICES``'s
list price) and a paid JSON API (an ``http`` node with ``cost_per_request``), both
on 127.0.0.1 and both counting what they bill: rows racing the cap in two shards
(two processes), a chain of workflows sharing one cap, a retry after a budget
stop, cached answers when the cap is spent, and a paid call whose row then fails.
What the providers billed is the truth every figure is held to: the status
command's cost, the run records' cost, and the cap.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lead_pipeline.providers.urlguard import TRUSTED_HOSTS_ENV
from lead_pipeline.store import LeadStore
from lead_pipeline_tests.servers import PdlServer, RecordedRequest, Reply, StubServer

pytestmark = pytest.mark.slow(minutes=2)

LEAD = "money"
MATCH = 0.28  # PDL's price per match (REQUEST_PRICES["pdl"])
CALL = 0.05  # the paid API's cost_per_request

WORKFLOWS = {
    "emails": """\
name: emails
nodes:
  - id: find
    type: work_email
    founders: team
    providers: [pdl]
    verify: never
    outputs: {{team_emails: array, team_email_count: integer}}
""",
    "scored": """\
name: scored
needs: [emails]
nodes:
  - id: score
    type: http
    url: "{base}/score"
    params: {{name: "{{{{ name }}}}"}}
    extract: {{score: "score"}}
    provider: scorer
    cost_per_request: {call}
    outputs: {{score: {{type: number, minimum: 0, maximum: 1}}}}
""",
}


class ScoreApi(StubServer):
    """``GET /score?name=``: every answer is billed; a company named "Seven" scores 7,
    which the node's declared maximum refuses after the call was paid."""

    def handle(self, request: RecordedRequest) -> Reply:
        name = request.param("name") or ""
        return Reply(json={"score": 7 if name == "Seven" else 0.5})


def people(count: int) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (f"ada lovelace{i}", f"c{i}.example"): {"email": f"ada@c{i}.example"} for i in range(count)
    }


def leads(count: int, names: dict[int, str] | None = None) -> list[dict[str, Any]]:
    return [
        {
            "id": f"r{i:02d}",
            "name": (names or {}).get(i, f"Company {i}"),
            "website": f"https://c{i}.example",
            "team": [{"name": f"Ada Lovelace{i}", "title": "CEO"}],
        }
        for i in range(count)
    ]


@pytest.fixture
def pdl() -> Iterator[PdlServer]:
    # A little latency, so the rows in flight all ask before any answer lands.
    with PdlServer(people(12), latency=0.2) as server:
        yield server


@pytest.fixture
def api() -> Iterator[ScoreApi]:
    with ScoreApi() as server:
        yield server


@pytest.fixture
def env(db_url: str, tmp_path: Path, pdl: PdlServer, api: ScoreApi) -> dict[str, str]:
    folder = tmp_path / "workflows"
    folder.mkdir()
    for name, text in WORKFLOWS.items():
        (folder / f"{name}.yaml").write_text(text.format(base=api.root_url, call=CALL))
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith("_API_KEY") and not k.endswith("_BASE_URL")
    }
    return {
        **environment,
        **pdl.env(),
        "LEAD_PIPELINE_WORKFLOWS": str(folder),
        "LEAD_PIPELINE_DB_URL": db_url,
        "LEAD_PIPELINE_RETRY": '{"max_attempts": 2, "base_delay": 0.01}',
        TRUSTED_HOSTS_ENV: f"127.0.0.1:{api.port}",
    }


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The command with no terminal on stdin: nobody is there to answer a question."""
    return subprocess.run(
        [sys.executable, "-m", "lead_pipeline.cli", *args],
        capture_output=True,
        text=True,
        env={**env, "COLUMNS": "200"},
        stdin=subprocess.DEVNULL,
        timeout=600,
    )


def import_leads(env: dict[str, str], tmp_path: Path, rows: list[dict[str, Any]]) -> None:
    path = tmp_path / "leads.json"
    path.write_text(json.dumps(rows))
    done = cli(env, "import", str(path), "--lead", LEAD, "--id-column", "id")
    assert done.returncode == 0, done.stdout + done.stderr


def recorded(db_url: str) -> tuple[dict[str, float], float]:
    """Each workflow's cost as ``status`` shows it, and the sum of the run records' costs."""
    store = LeadStore(db_url)
    try:
        status = {w.workflow: w.cost for w in store.status(LEAD).workflows}
        runs = sum(r["cost"] for r in store.recent_runs(LEAD, limit=100))
    finally:
        store.dispose()
    return status, runs


def test_parallel_rows_in_two_processes_cannot_spend_past_the_cap(
    env: dict[str, str], db_url: str, tmp_path: Path, pdl: PdlServer
) -> None:
    """Ten rows, five in flight over two shards (two step processes, one ledger in the
    store), $0.28 a match against $0.5: one match is all the cap holds. No terminal,
    no --yes: a cap under the confirmation threshold needs no question."""
    import_leads(env, tmp_path, leads(10))
    args = ["enrich", "--lead", LEAD, "--workflow", "emails", "--max-cost", "0.5"]
    done = cli(env, *args, "--parallel", "5", "--shard-size", "5", "--max-shards", "2")
    out = done.stdout + done.stderr
    assert "Not started" not in out, out
    assert pdl.matches == 1, out  # the provider's own count of what it billed
    status, runs = recorded(db_url)
    assert status["emails"] == pytest.approx(MATCH), out
    assert runs == pytest.approx(MATCH), out

    # A retry is a new run with its own cap: one more match, and everything billed is
    # still in the figures (the failed rows' results are written over, their costs kept).
    again = cli(env, *args, "--retry-failed", "--parallel", "5")
    assert pdl.matches == 2, again.stdout + again.stderr
    status, runs = recorded(db_url)
    assert status["emails"] == pytest.approx(2 * MATCH)
    assert runs == pytest.approx(2 * MATCH)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_chain_shares_one_cap(
    env: dict[str, str], db_url: str, tmp_path: Path, pdl: PdlServer, api: ScoreApi
) -> None:
    """``--workflow all --max-cost 0.3``: the first workflow's match ($0.28) leaves $0.02,
    too little for the next workflow's $0.05 call, which is therefore not made."""
    import_leads(env, tmp_path, leads(1))
    done = cli(env, "enrich", "--lead", LEAD, "--workflow", "all", "--max-cost", "0.3")
    out = done.stdout + done.stderr
    assert pdl.matches == 1, out
    assert api.count("/score") == 0, out
    assert "budget reached" in out, out
    status, runs = recorded(db_url)
    assert status["emails"] == pytest.approx(MATCH)
    assert status.get("scored", 0.0) == 0.0
    assert runs == pytest.approx(MATCH)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_cached_answers_are_free_and_served_when_the_cap_is_spent(
    env: dict[str, str], db_url: str, tmp_path: Path, pdl: PdlServer
) -> None:
    import_leads(env, tmp_path, leads(3))
    first = cli(env, "enrich", "--lead", LEAD, "--workflow", "emails")
    assert first.returncode == 0 and pdl.matches == 3, first.stdout + first.stderr
    # A cap of $0: every answer comes from the response cache, so every row is done.
    again = cli(env, "enrich", "--lead", LEAD, "--workflow", "emails", "--force", "--max-cost", "0")
    out = again.stdout + again.stderr
    assert again.returncode == 0, out
    assert "done: 3 ok, 0 failed" in out, out
    assert pdl.matches == 3
    status, runs = recorded(db_url)
    assert status["emails"] == pytest.approx(3 * MATCH)
    assert runs == pytest.approx(3 * MATCH)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_row_that_fails_after_a_paid_call_keeps_its_cost(
    env: dict[str, str], db_url: str, tmp_path: Path, pdl: PdlServer, api: ScoreApi
) -> None:
    """The answer for "Seven" is paid, then refused by the node's declared maximum: the
    row fails, and what it cost is in ``status``, the run record and ``errors``."""
    import_leads(env, tmp_path, leads(3, names={1: "Seven"}))
    done = cli(env, "enrich", "--lead", LEAD, "--workflow", "all")
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert api.count("/score") == 3 and pdl.matches == 3, out
    status, runs = recorded(db_url)
    assert status["scored"] == pytest.approx(3 * CALL), out
    assert runs == pytest.approx(3 * MATCH + 3 * CALL)
    errors = cli(env, "errors", "--lead", LEAD)
    assert "invalid output" in errors.stdout and "$0.0500" in errors.stdout, errors.stdout


def test_rows_held_by_reservations_in_flight_wait_and_are_not_failed(
    env: dict[str, str], db_url: str, tmp_path: Path, pdl: PdlServer
) -> None:
    """Ten rows, five in flight, $0.28 reserved a lookup against $0.5, and PDL knows none of
    the people (a 404 is a free "no match"): the one reservation that fits leaves no room
    for a second while it is in flight, yet it settles at $0. The other rows wait for it
    and are asked in turn; none is failed as if the cap were spent, and the summary says
    that calls waited. Two matches past the cap still stop at one."""
    pdl.people = {}
    pdl.latency = 0.5
    # The first question is held 3 s more, so the other rows in flight meet its
    # reservation at the ledger even when a busy machine starts them late.
    pdl.script(lambda request: (time.sleep(3.0), pdl.handle(request))[1])
    import_leads(env, tmp_path, leads(10))
    args = ["enrich", "--lead", LEAD, "--workflow", "emails", "--max-cost", "0.5"]
    done = cli(env, *args, "--parallel", "5", "--shard-size", "5", "--max-shards", "2")
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "done: 10 ok, 0 failed" in out, out
    assert "budget reached" not in out, out
    assert "waited for calls in flight to settle under max_cost" in out, out
    assert pdl.count() == 10 and pdl.matches == 0, out
    status, runs = recorded(db_url)
    assert status["emails"] == 0 and runs == 0

    # Matches for every row: the first fits, the second is refused for good once $0.28 is
    # spent (0.28 + 0.28 > 0.5), and the cap holds.
    pdl.people = people(12)
    again = cli(env, *args, "--force", "--refresh", "--parallel", "5")
    out = again.stdout + again.stderr
    assert pdl.matches == 1, out
    assert "budget reached" in out, out
    status, runs = recorded(db_url)
    assert status["emails"] == pytest.approx(MATCH), out
