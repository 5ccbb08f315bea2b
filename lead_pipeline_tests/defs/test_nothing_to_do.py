"""A re-run with nothing to do launches no Dagster run, nor imports Dagster; a changed row
launches one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from lead_pipeline.defs.partitions import instance
from lead_pipeline.settings import reset_settings
from lead_pipeline.store import LeadStore

pytestmark = pytest.mark.slow

WORKFLOW = """\
name: lengths
where: "len(name) < 8"
nodes:
  - id: count
    type: expression
    values: {name_length: "len(name)"}
    outputs: {name_length: integer}
"""


# The command's own entry point, then whether it imported Dagster (after its output).
PROBE = """
import sys
from lead_pipeline.cli import main
code = main(sys.argv[1:])
print("IMPORTED DAGSTER:", "dagster" in sys.modules)
sys.exit(code)
"""


def enrich(*args: str) -> str:
    """``lead-pipeline enrich`` in its own process: the code location is built from this
    test's workflow folder, not from whatever this process loaded."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, "enrich", "--lead", "demo", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "300"},
        timeout=300,
    )
    out = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 0, out
    return out


def runs() -> int:
    return len(instance().get_run_records(dg.RunsFilter(tags={"dagster/partition": "demo"})))


def test_a_finished_list_is_not_run_again_until_a_row_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "wf").mkdir()
    (tmp_path / "wf" / "lengths.yaml").write_text(WORKFLOW)
    monkeypatch.setenv("LEAD_PIPELINE_WORKFLOWS", str(tmp_path / "wf"))
    reset_settings()
    store = LeadStore()
    rows = [(f"c{i}", {"name": f"Co {i}"}) for i in range(4)] + [("long", {"name": "Long name"})]
    store.import_rows("demo", rows)

    assert "done: 4 ok, 0 failed" in enrich("--workflow", "lengths")
    assert runs() == 1

    again = enrich("--workflow", "lengths")
    assert "lengths: nothing to do (4 rows up to date, 1 outside where" in again, again
    assert "no Dagster run launched" in again and "done: 0 ok, 0 failed" in again
    assert runs() == 1
    # Deciding there is nothing to do costs no Dagster import (a second of the command).
    assert "IMPORTED DAGSTER: False" in again, again

    # A row that changed is work again; so is a row that moved inside the where.
    store.import_rows("demo", [("c0", {"name": "Co 00"}), ("long", {"name": "Short"})])
    changed = enrich("--workflow", "lengths")
    assert "done: 2 ok, 0 failed" in changed and "IMPORTED DAGSTER: True" in changed
    assert runs() == 2
    assert store.row_values("demo")["long"]["name_length"] == 5

    # --force is asking for the work: it always runs.
    assert "done: 5 ok, 0 failed" in enrich("--workflow", "lengths", "--force")
    assert runs() == 3


GATED = """\
name: gated
nodes:
  - id: ask
    type: llm
    when: "len(name) > 100"
    prompt: "Is {{ name }} a B2B company?"
    outputs: {gated_b2b: boolean}
"""


def test_a_run_that_may_cost_decides_nothing_to_do_from_its_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A workflow with a node that may call a provider is priced before it runs (the plain
    command, no ``--yes``); with nothing to do, the plan's selection decides it: no run,
    no Dagster import, the same answer as the launch's own selection."""
    (tmp_path / "wf").mkdir()
    (tmp_path / "wf" / "gated.yaml").write_text(GATED)
    monkeypatch.setenv("LEAD_PIPELINE_WORKFLOWS", str(tmp_path / "wf"))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789abcdef")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # never called: when is false
    reset_settings()
    store = LeadStore()
    store.import_rows("demo", [(f"c{i}", {"name": f"Co {i}"}) for i in range(3)])

    assert "3 with no answer" in enrich("--workflow", "gated")
    assert runs() == 1
    again = enrich("--workflow", "gated")
    assert "gated: nothing to do (3 rows up to date, 0 outside where" in again, again
    assert "IMPORTED DAGSTER: False" in again and runs() == 1

    # --yes prices nothing: the launch selects for itself, and finds the same.
    unpriced = enrich("--workflow", "gated", "--yes")
    assert "gated: nothing to do (3 rows up to date, 0 outside where" in unpriced, unpriced
    assert runs() == 1
