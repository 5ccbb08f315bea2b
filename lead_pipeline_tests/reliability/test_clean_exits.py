"""Commands end with one line and the README's exit code, never a traceback or a hang."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lead_pipeline.store import LeadStore
from lead_pipeline_tests.engine.test_plugins import install
from lead_pipeline_tests.reliability.harness import (
    Enrich,
    cli_env,
    session_pids,
    wait_for,
    write_workflow,
)

HANGING_PLUGIN = '''
"""A third party's row functions that never return: one blocks, one awaits forever."""
import asyncio
import time


def hang(values):
    time.sleep(3600)
    return {"x": "never"}


async def hang_async(values):
    await asyncio.sleep(3600)
    return {"x": "never"}
'''


@pytest.mark.slow(minutes=1)
@pytest.mark.parametrize("function", ["hang", "hang_async"])
def test_a_run_stuck_in_a_plugin_ends_with_exit_3_and_no_process_left(
    function: str, tmp_path: Path
) -> None:
    """``LEAD_PIPELINE_RUN_STALL_TIMEOUT`` ends the wait and the command: before, the stall
    was reported and the command then waited forever for its stuck step process."""
    site = tmp_path / "site"
    site.mkdir()
    install(
        site,
        "lp-hang",
        "[lead_pipeline.functions]\nhang = lp_hang:hang\nhang_async = lp_hang:hang_async\n",
        HANGING_PLUGIN,
    )
    workflows = write_workflow(
        tmp_path / "wf",
        "name: stuck\nnodes:\n"
        f"  - {{id: h, type: python, function: {function}, reads: [name],\n"
        "     outputs: {x: string}}\n",
        name="stuck",
    )
    store = LeadStore()
    store.import_rows("crm", [("acme", {"name": "Acme"}), ("globex", {"name": "Globex"})])
    store.dispose()
    env = cli_env(workflows, PYTHONPATH=str(site), LEAD_PIPELINE_RUN_STALL_TIMEOUT="10")
    run = Enrich(env, tmp_path / "run", "--lead", "crm", "--workflow", "stuck")
    try:
        done = run.wait(timeout=300)  # a hang fails here instead of blocking the suite
    except subprocess.TimeoutExpired:
        run.kill()
        pytest.fail("the command never exited after reporting the stall")
    assert done.code == 3, done.output
    assert "no progress for 10s" in done.stdout, done.output
    assert "Traceback" not in done.output and "Exception" not in done.output, done.output
    # No step process is left behind (the step server and its helpers go once the command
    # has gone): waited for, not assumed.
    wait_for(lambda: not session_pids(run.proc.pid), "the run's processes to end", timeout=120)


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lead_pipeline.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("under a file", "as the Dagster home: Not a directory"),
        ("a file", "as the Dagster home: File exists"),
        ("in /proc", "as the Dagster home: No such file or directory"),
    ],
)
def test_an_unusable_dagster_home_is_one_line_and_exit_2(
    where: str, message: str, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    home = {"under a file": blocker / "home", "a file": blocker, "in /proc": Path("/proc/lp")}
    store = LeadStore()
    store.import_rows("crm", [("acme", {"name": "Acme", "description": "B2B invoicing"})])
    store.dispose()
    env = {**os.environ, "DAGSTER_HOME": str(home[where])}
    done = _cli(env, "enrich", "--lead", "crm", "--workflow", "b2b_only")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip() == f"error: DAGSTER_HOME: cannot use {home[where]} {message}"


@pytest.mark.parametrize("where", ["under a file", "in /proc", "missing in /proc"])
@pytest.mark.parametrize("command", ["status", "enrich", "import", "errors"])
def test_a_store_path_that_cannot_be_used_is_one_line_and_exit_3(
    where: str, command: str, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    path = {
        "under a file": blocker / "store.db",
        "in /proc": Path("/proc/store.db"),
        "missing in /proc": Path("/proc/lp/store.db"),
    }[where]
    leads = tmp_path / "leads.csv"
    leads.write_text("name,website\nAcme,https://acme.com\n")
    args = {
        "status": ["status", "--lead", "crm"],
        "enrich": ["enrich", "--lead", "crm", "--workflow", "b2b_only"],
        "import": ["import", str(leads), "--lead", "crm"],
        "errors": ["errors", "--lead", "crm"],
    }[command]
    done = _cli({**os.environ, "LEAD_PIPELINE_DB_URL": f"sqlite:///{path}"}, *args)
    assert done.returncode == 3, done.stdout + done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith("error: cannot ") and str(path.parent) in line, line
    assert "Traceback" not in done.stdout + done.stderr
