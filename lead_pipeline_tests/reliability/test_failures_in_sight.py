"""Failures in plain sight, through ``lead-pipeline enrich`` as a user runs it.

Exit codes, the closing output grouped by cause (ids and numbers folded, a count,
a few row ids and names), ``lead-pipeline errors``, progress counting this run's
rows only, the failure-rate limit failing a run, and the blocking
``failure_rate`` check stopping the downstream workflow. SQLite and PostgreSQL,
against an HTTP API on 127.0.0.1 that the test starts.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lead_pipeline.providers.urlguard import TRUSTED_HOSTS_ENV
from lead_pipeline.store import LeadStore
from lead_pipeline_tests.servers import RecordedRequest, Reply, StubServer

pytestmark = pytest.mark.slow(minutes=1)

LEAD = "crm"

WORKFLOWS = {
    "scores": """\
name: scores
nodes:
  - id: lookup
    type: http
    url: "{base}/company"
    params: {{name: "{{{{ name }}}}"}}
    extract: {{score: "score"}}
    outputs: {{score: {{type: number, minimum: 0, maximum: 1}}}}
""",
    "ranks": """\
name: ranks
needs: [scores]
nodes:
  - id: rank
    type: expression
    values: {{rank: "score * 10"}}
    outputs: {{rank: number}}
""",
}


class CompanyApi(StubServer):
    """``GET /company?name=``: a score, a 404 whose text holds a request id and a
    timing, a 500 for a company "Kaput", or a score of 7 for one named "Seven"."""

    def handle(self, request: RecordedRequest) -> Reply:
        name = request.param("name") or ""
        if name.startswith("Missing"):
            number = name.removeprefix("Missing ")
            return Reply(
                status=404,
                json={
                    "error": f"no company #{number} (request 7f3a9c2b{number}e4d5, 1{number}3 ms)"
                },
            )
        if name == "Seven":
            return Reply(json={"score": 7})
        return Reply(json={"score": 0.5})


@pytest.fixture
def api() -> Iterator[CompanyApi]:
    with CompanyApi() as server:
        yield server


@pytest.fixture
def env(db_url: str, tmp_path: Path, api: CompanyApi) -> dict[str, str]:
    folder = tmp_path / "workflows"
    folder.mkdir()
    for name, text in WORKFLOWS.items():
        (folder / f"{name}.yaml").write_text(text.format(base=api.root_url))
    return {
        **os.environ,
        "LEAD_PIPELINE_WORKFLOWS": str(folder),
        "LEAD_PIPELINE_DB_URL": db_url,
        TRUSTED_HOSTS_ENV: f"127.0.0.1:{api.port}",  # the stand-in API is on loopback
    }


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lead_pipeline.cli", *args],
        capture_output=True,
        text=True,
        env={**env, "COLUMNS": "200"},
        timeout=300,
    )


def import_names(env: dict[str, str], tmp_path: Path, names: list[str]) -> None:
    path = tmp_path / "leads.csv"
    path.write_text("id,name\n" + "".join(f"c{i:02d},{n}\n" for i, n in enumerate(names)))
    done = cli(env, "import", str(path), "--lead", LEAD, "--id-column", "id")
    assert done.returncode == 0, done.stderr


def test_every_row_failing_fails_the_run_with_the_causes(
    env: dict[str, str], db_url: str, tmp_path: Path
) -> None:
    names = [f"Missing {i}" for i in range(11)] + ["Seven"]
    import_names(env, tmp_path, names)
    done = cli(env, "enrich", "--lead", LEAD, "--workflow", "scores")
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    # Grouped: the eleven 404s are one cause, ids and numbers folded; the 7 is another.
    assert "12 rows failed" in out and "2 causes" in out, out
    line = next(line for line in out.splitlines() if "11 rows" in line)
    assert "lookup:" in line and "HTTP 404" in line and "<id>" in line, line
    assert re.search(r"c0\d \(Missing \d+\)", line), line  # row ids and names
    assert "and 8 more" in line
    assert (
        "1 row   lookup: invalid output score: <n> is above the maximum <n>  (e.g. c11 (Seven))"
        in out
    )
    assert "lead-pipeline errors --lead crm" in out
    # The run failed (most rows failed): said, and recorded so.
    assert "12 of 12 processed rows failed (100%; a run fails above 50%)" in out
    store = LeadStore(db_url)
    try:
        records = store.recent_runs(LEAD)
        assert [(r["workflow"], r["status"], r["ok"], r["failed"]) for r in records] == [
            ("scores", "failed", 0, 12)
        ]
        counts = {w.workflow: w for w in store.status(LEAD).workflows}
        assert (counts["scores"].ok, counts["scores"].failed) == (0, 12)
    finally:
        store.dispose()

    listed = cli(env, "errors", "--lead", LEAD)
    assert listed.returncode == 0, listed.stderr
    assert "12 failed row result(s) in crm" in listed.stdout
    for row in ("c00", "c07", "c11"):
        assert row in listed.stdout
    assert "7f3a9c2b3e4d5" in listed.stdout  # one row's own error text, unfolded
    grouped = cli(env, "errors", "--lead", LEAD, "--workflow", "scores", "--by-cause")
    assert grouped.returncode == 0 and "11 rows" in grouped.stdout
    assert cli(env, "errors", "--lead", "nope").returncode == 2


def test_a_few_failed_rows_block_downstream_and_exit_1(env: dict[str, str], tmp_path: Path) -> None:
    """2 of 10 failed: the run materializes, the blocking failure_rate check fails (above
    10%), so ``ranks`` does not run; the exit code says rows failed, not 'could not run'."""
    import_names(env, tmp_path, ["Missing 1", "Missing 2", *(f"Fine {i}" for i in range(8))])
    done = cli(env, "enrich", "--lead", LEAD, "--workflow", "all")
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "scores on crm: 8 ok, 2 failed" in out
    assert "2 rows failed" in out and "1 cause" in out
    assert "failure_rate" in out  # the blocking check is named as what stopped the run
    # ... in a plain line, not as Dagster's exception
    assert "stopped: blocking check failed (scores: failure_rate)" in out, out
    assert "dagster._core" not in out and "DagsterAssetCheckFailedError" not in out, out
    assert "ranks on crm" not in out  # downstream did not run
    assert "could not finish" not in out


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # CLI output, one backend is enough
def test_all_ok_exits_0_and_progress_counts_this_runs_rows(
    env: dict[str, str], tmp_path: Path
) -> None:
    import_names(env, tmp_path, [f"Fine {i}" for i in range(6)])
    first = cli(env, "enrich", "--lead", LEAD, "--workflow", "scores")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "done: 6 ok, 0 failed" in first.stdout
    again = cli(env, "enrich", "--lead", LEAD, "--workflow", "scores", "--force", "--limit", "2")
    assert again.returncode == 0, again.stdout + again.stderr
    # The bar and the closing line count this run's 2 rows, not the 6 results in the store.
    assert "2/2 rows" in again.stdout, again.stdout
    assert "6/6" not in again.stdout
    assert "done: 2 ok, 0 failed" in again.stdout


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_retry_failed_reports_rows_left_alone(env: dict[str, str], tmp_path: Path) -> None:
    import_names(env, tmp_path, ["Missing 1", *(f"Fine {i}" for i in range(9))])
    assert cli(env, "enrich", "--lead", LEAD, "--workflow", "scores").returncode == 1
    retry = cli(env, "enrich", "--lead", LEAD, "--workflow", "scores", "--retry-failed")
    out = retry.stdout + retry.stderr
    assert "9 left alone (--retry-failed: not failed)" in out, out
    assert "0 up to date" in out
    assert retry.returncode == 1  # the row still fails
