"""Lead list names are the gate against path and SQL tricks."""

from __future__ import annotations

import pytest

from lead_pipeline.store import InvalidNameError, check_name


@pytest.mark.parametrize("name", ["yc-f25", "a", "leads_2026", "0day", "a" * 64])
def test_good_names(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["../x", "a;drop table", "YC", "Leads", "", " a", "a ", "-a", "_a", "a/b", "a\\b",
     "a.b", "a'b", "a\nb", "ä", "a" * 65],
)  # fmt: skip
def test_bad_names_are_refused_with_the_rule(name: str) -> None:
    with pytest.raises(InvalidNameError, match="lowercase letters, digits"):
        check_name(name)
