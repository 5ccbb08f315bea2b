"""A broken workflow file blocks only itself; a removed workflow's results show as retired;
``export --errors`` says why rows have no result."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lead_pipeline.cli import main
from lead_pipeline.store import FAILED, LeadStore, NodeResult

GOOD = """\
name: sizes
nodes:
  - id: copy
    type: expression
    values: {size_n: "size"}
    outputs: {size_n: {type: integer, minimum: 0}}
"""
BROKEN = "name: typo\nnodes:\n  - id: x\n    type: expression\n    values: {a: '1'\n"


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    (workflows / "sizes.yaml").write_text(GOOD)
    (workflows / "typo.yaml").write_text(BROKEN)
    monkeypatch.setenv("LEAD_PIPELINE_WORKFLOWS", str(workflows))
    leads = tmp_path / "leads.json"
    leads.write_text(json.dumps([{"name": "A", "size": 3}, {"name": "B", "size": -1}]))
    assert main(["import", str(leads), "--lead", "crm"]) == 0
    return workflows


def enrich(*args: str) -> tuple[int, str]:
    """``lead-pipeline enrich`` in its own process, as a user runs it (the code location
    is built from this test's workflow folder, not from whatever this process loaded)."""
    done = subprocess.run(
        [sys.executable, "-m", "lead_pipeline.cli", "enrich", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "300"},
        timeout=300,
    )
    return done.returncode, " ".join((done.stdout + done.stderr).split())


def out_of(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    return " ".join((captured.out + captured.err).split())


def test_a_broken_file_blocks_only_itself(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = enrich("--lead", "crm", "--workflow", "sizes")
    assert code == 1, out  # B's size is below 0
    # Rich folds a long path at the terminal width: look for it without whitespace.
    assert "typo.yaml" in out.replace(" ", "")
    assert "left out a workflow file that did not load" in out
    assert "sizes on crm: 1 ok, 1 failed" in out
    assert "size_n: <n> is below the minimum <n>" in out

    assert main(["status", "--lead", "crm"]) == 0
    out = out_of(capsys)
    assert "typo.yaml" in out.replace(" ", "") and "the other workflows work" in out

    target = tmp_path / "out.csv"
    assert (
        main(["export", "--lead", "crm", "--format", "csv", "--out", str(target), "--errors"]) == 0
    )
    rows = {r["name"]: r for r in csv.DictReader(target.open(encoding="utf-8"))}
    assert rows["A"]["_errors"] == "" and rows["A"]["size_n"] == "3"
    assert rows["B"]["_errors"].startswith("sizes.copy: invalid output size_n: -1 is below")
    assert main(["lists"]) == 0

    # Asking for a workflow only the broken file could define: a usage error naming it.
    code, out = enrich("--lead", "crm", "--workflow", "typo")
    assert code == 2
    assert "typo.yaml" in out.replace(" ", "")


def test_a_removed_workflows_results_show_as_retired(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "typo.yaml").unlink()
    store = LeadStore()
    row = store.rows("crm")[0].row_id
    store.record_result(
        NodeResult(
            lead_list="crm",
            row_id=row,
            workflow="old_scoring",
            node="score",
            node_index=0,
            status=FAILED,
            config_hash="h",
            error="boom",
        )
    )
    store.dispose()
    capsys.readouterr()
    assert main(["status", "--lead", "crm"]) == 0
    out = out_of(capsys)
    # The table's name cell may wrap at the console's width: name and mark apart.
    assert "old_scoring" in out and "(retired)" in out
    assert "retired: old_scoring" in out
    assert "warning" not in out
