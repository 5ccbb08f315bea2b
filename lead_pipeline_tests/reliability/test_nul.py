"""A NUL character in any text the store writes: the same value on SQLite and PostgreSQL,
never a PostgreSQL error (its text and JSON cannot hold NUL)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from lead_pipeline.store import FAILED, LeadStore, NodeResult
from lead_pipeline.store.connection import NUL_REPLACEMENT

R = NUL_REPLACEMENT


def test_nul_in_ids_fields_params_messages_and_errors_is_stored_alike(store: LeadStore) -> None:
    store.import_rows(
        "demo", [("a\x00b", {"name": "Ac\x00me", "no\x00te": "keep \\u0000 as text", "n": 1})]
    )
    [row] = store.rows("demo")
    assert row.row_id == f"a{R}b"
    assert row.fields == {"name": f"Ac{R}me", f"no{R}te": "keep \\u0000 as text", "n": 1}
    assert store.rows("demo", [f"a{R}b"]) == [row]
    run = store.start_run("demo", "wf\x00", {"p": "x\x00y"}, dagster_run_id="run\x00")
    store.finish_run(
        run, status="failed", ok=0, failed=1, skipped=0, cost=0.0, message="bad\x00news"
    )
    [record] = store.recent_runs("demo")
    assert record["params"] == {"p": f"x{R}y"}
    assert "\x00" not in repr(record)
    now = datetime.now(UTC)
    store.record_result(
        NodeResult(
            lead_list="demo",
            row_id=f"a{R}b",
            workflow="wf",
            node="n",
            node_index=0,
            status=FAILED,
            config_hash="h",
            outputs=None,
            error="provider said \x00",
            started_at=now,
            finished_at=now,
            duration_s=0.0,
            cost=0.0,
            provider="p",
        )
    )
    [result] = store.results("demo")[f"a{R}b"].values()
    assert "\x00" not in (result.error or "") and "provider said" in (result.error or "")


def test_a_lead_file_with_nul_imports_on_either_backend(db_url: str, tmp_path: Path) -> None:
    lead = tmp_path / "leads.csv"
    lead.write_bytes(b"name,website\nAc\x00me,acme.com\nGlobex,globex.com\n")
    done = subprocess.run(
        [sys.executable, "-m", "lead_pipeline.cli", "import", str(lead), "--lead", "demo"],
        env={**os.environ, "LEAD_PIPELINE_DB_URL": db_url},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert "Traceback" not in done.stdout + done.stderr
    if done.returncode == 0:
        names = sorted(r.fields["name"] for r in LeadStore(db_url).rows("demo"))
        assert names == [f"Ac{R}me", "Globex"]
    else:  # the reader may refuse the byte itself: then with one clear error
        assert done.returncode == 2 and "leads.csv" in done.stderr, done.stderr
