"""Commands that only read do not build the Dagster code location, nor load pandas."""

from __future__ import annotations

import argparse
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
heavy += tuple(f"lead_pipeline.cli.{m}" for m in ("export_list", "import_list", "mcp_server"))
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
    assert not loaded(argv) - {"sqlalchemy"}  # status opens the store


def test_help_loads_no_database_or_dataframe_library() -> None:
    assert loaded(["--help"]) == {
        "lead_pipeline.cli.export_list",
        "lead_pipeline.cli.import_list",
        "lead_pipeline.cli.mcp_server",
    }


@pytest.mark.parametrize("argv", [["workflows"], ["export", "--help"], ["nosuchcommand"]])
def test_a_command_loads_its_own_module_only(argv: list[str]) -> None:
    """A command line naming a subcommand builds that subcommand's parser alone; one naming
    no known subcommand gets the whole parser (argparse's error lists every choice)."""
    mine = {"export": {"lead_pipeline.cli.export_list"}}
    if argv[0] in mine:
        assert loaded(argv) == mine[argv[0]]
    elif argv[0] == "workflows":
        assert not loaded(argv) - {"sqlalchemy"}
    else:
        assert "lead_pipeline.cli.mcp_server" in loaded(argv)


def test_the_named_parser_is_the_whole_parsers_subcommand() -> None:
    """Every subcommand listed by name parses the same alone as in the whole parser."""
    from lead_pipeline.cli import SUBCOMMANDS, build_parser

    whole = build_parser()
    choices = next(a for a in whole._actions if isinstance(a, argparse._SubParsersAction))
    assert list(choices.choices) == list(SUBCOMMANDS)
    for name in SUBCOMMANDS:
        alone = build_parser(name)
        own = next(a for a in alone._actions if isinstance(a, argparse._SubParsersAction))
        assert list(own.choices) == [name]
        assert own.choices[name].format_help() == choices.choices[name].format_help()
