"""Run options are declared once: the CLI's flags, the launchpad's config and the engine's
options all come from ``RunOptionFields``."""

from __future__ import annotations

import argparse

import pytest

from lead_pipeline.cli.common import add_option_flags, options_from_args
from lead_pipeline.engine.options import RunOptionFields, RunOptions


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    add_option_flags(p)
    return p


def test_every_option_is_a_flag_a_launchpad_field_and_an_engine_option() -> None:
    from lead_pipeline.defs.resources import EnrichOptions

    names = set(RunOptionFields.model_fields)
    flags = {a.dest for a in parser()._actions if a.dest != "help"}
    assert flags == names
    assert names <= set(EnrichOptions.model_fields) and names <= set(RunOptions.model_fields)
    launchpad = EnrichOptions.to_config_schema().as_field().config_type.fields  # type: ignore[attr-defined]
    assert names <= set(launchpad)
    for name in names:
        assert launchpad[name].description == RunOptionFields.model_fields[name].description


def test_help_comes_from_the_field_with_its_default() -> None:
    text = " ".join(parser().format_help().split())  # however wide the terminal wraps it
    assert "rows in flight across all shards, waiting on providers" in text
    assert "64 per shard) (default 5)" in text
    assert "--max-cost USD" in text and "--retry-failed" in text


def test_only_given_flags_are_passed_on() -> None:
    args = parser().parse_args(["--parallel", "3", "--force", "--max-cost", "0.5"])
    assert options_from_args(args) == {"parallel": 3, "force": True, "max_cost": 0.5}
    assert options_from_args(parser().parse_args([])) == {}


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["--parallel", "0"], "--parallel"),
        (["--limit", "-1"], "--limit"),
        (["--max-cost", "-2"], "--max-cost"),
    ],
)
def test_a_bad_value_names_the_flag(argv: list[str], flag: str) -> None:
    with pytest.raises(ValueError, match=f"^{flag}: "):
        options_from_args(parser().parse_args(argv))


def test_the_launchpad_options_reach_the_engine_unchanged() -> None:
    from lead_pipeline.defs.resources import EnrichOptions

    given = {"parallel": 7, "force": True, "limit": 3, "shard_size": 10, "max_cost": 1.5}
    engine = EnrichOptions(**given).option_values()
    assert RunOptions(**engine).model_dump(include=set(given)) == given
    with pytest.raises(ValueError, match="parallel"):
        RunOptions(parallel=0)
    with pytest.raises(ValueError, match="paralel"):
        RunOptions(paralel=3)  # type: ignore[call-arg]  # a typo is refused, not ignored
