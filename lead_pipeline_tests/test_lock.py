"""One set of versions for every make target: constraints.txt pins every requirement.

``make demo`` and ``make test`` install with ``-c constraints.txt`` (the Makefile), so a
requirement the lock does not name would be resolved anew by each target, as Dagster
once was (1.13.28 for the demo, 1.13.27 for the tests: issue 22). ``make lock``
rewrites the file after a dependency changes.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    """``psycopg[binary]>=3.1`` -> ``psycopg``, normalized as pip compares names."""
    bare = re.split(r"[\[<>=!~; ]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", bare).lower()


def _pins() -> dict[str, set[str]]:
    pins: dict[str, set[str]] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, _, rest = line.partition("==")
            pins.setdefault(_name(name), set()).add(rest.split(";", 1)[0].strip())
    return pins


def test_every_requirement_of_every_extra_is_pinned() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in project["dependencies"]}
    for extra in project["optional-dependencies"].values():
        wanted |= {_name(r) for r in extra}
    missing = sorted(wanted - set(_pins()))
    assert not missing, f"not in constraints.txt (run make lock): {missing}"


def test_the_dagster_family_is_one_release() -> None:
    pins = _pins()
    core = pins["dagster"]
    assert len(core) == 1
    (version,) = core
    minor = version.split(".", 2)[2]  # 1.13.27 -> 27; the libraries are 0.29.27
    for name, versions in pins.items():
        if name.startswith("dagster-"):
            assert {v.rsplit(".", 1)[1] for v in versions} == {minor}, (name, versions)


def test_every_install_target_installs_with_the_lock() -> None:
    makefile = (ROOT / "Makefile").read_text()
    installs = [line for line in makefile.splitlines() if "$(UV_INSTALL)" in line]
    assert "-c constraints.txt" in makefile and len(installs) == 2
    assert "pip install -e" not in makefile  # the package only through the lock
