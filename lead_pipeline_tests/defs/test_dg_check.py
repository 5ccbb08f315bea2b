"""Dagster's project tooling loads the code location: ``dg check defs`` (what CI runs)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lead_pipeline_tests.conftest import missing

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def dg_check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    dg = shutil.which("dg", path=str(Path(sys.executable).parent))
    if dg is None:
        missing("dg is not installed (pip install 'lead-pipeline[dev]')")
    return subprocess.run(
        [dg, "check", "defs", "--use-active-venv"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_dg_check_defs_loads_the_definitions() -> None:
    done = dg_check({})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "All definitions loaded successfully" in done.stdout + done.stderr


def test_dg_check_defs_names_a_broken_workflow_and_loads_the_others(tmp_path: Path) -> None:
    # A broken workflow file blocks only itself: the code location still loads the
    # good workflows, and the check's output names the file and the problem.
    folder = tmp_path / "wf"
    folder.mkdir()
    (folder / "broken.yaml").write_text("name: broken\nnodes:\n  - {id: x, type: nosuch}\n")
    done = dg_check({"LEAD_PIPELINE_WORKFLOWS": str(folder)})
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "All definitions loaded successfully" in output
    assert "broken.yaml" in output and "unknown node type 'nosuch'" in output
