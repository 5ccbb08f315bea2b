"""Commands that only read do not build the Dagster code location."""

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
code = main(sys.argv[1:])
loaded = sorted(m for m in sys.modules if m.startswith("lead_pipeline.defs"))
print("LOADED", ",".join(loaded))
sys.exit(code)
"""


@pytest.mark.parametrize("argv", [["workflows"], ["status", "--lead", "nothing-here"]])
def test_reading_commands_do_not_build_the_definitions(argv: list[str]) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], env=env, capture_output=True, text=True, timeout=120
    )
    assert "Traceback" not in done.stderr, done.stderr
    loaded = done.stdout.rsplit("LOADED", 1)[1].strip()
    assert "lead_pipeline.defs.definitions" not in loaded.split(","), loaded
