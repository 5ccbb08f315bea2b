"""Commands that only read do not build the Dagster code location, nor load pandas."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

PROBE = """
import sys
from lead_pipeline.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:  # --help
    code = exc.code
heavy = ("dagster", "pandas", "sqlalchemy", "lead_pipeline.defs.definitions")
print("LOADED", ",".join(m for m in heavy if m in sys.modules))
sys.exit(code)
"""


def loaded(argv: list[str]) -> set[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], env=env, capture_output=True, text=True, timeout=120
    )
    assert "Traceback" not in done.stderr, done.stderr
    return set(filter(None, done.stdout.rsplit("LOADED", 1)[1].strip().split(",")))


@pytest.mark.parametrize("argv", [["workflows"], ["status", "--lead", "nothing-here"]])
def test_reading_commands_load_neither_dagster_nor_pandas(argv: list[str]) -> None:
    assert loaded(argv) <= {"sqlalchemy"}  # status opens the store


def test_help_loads_no_database_or_dataframe_library() -> None:
    assert loaded(["--help"]) == set()
