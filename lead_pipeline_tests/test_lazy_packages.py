"""Packages whose names load on first use (lead_pipeline/lazy.py) still offer every name."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

from lead_pipeline_tests.conftest import REPO_ROOT

LAZY = [
    "lead_pipeline.engine",
    "lead_pipeline.providers",
    "lead_pipeline.leads",
    "lead_pipeline.workflows",
    "lead_pipeline.store",
]


@pytest.mark.parametrize("package", LAZY)
def test_every_exported_name_resolves_and_none_is_a_submodule(package: str) -> None:
    module = importlib.import_module(package)
    submodules = {m.name for m in pkgutil.iter_modules(module.__path__)}
    # A name that is also a submodule's would become the module once that is imported.
    assert not set(module.__all__) & submodules
    for name in module.__all__:
        assert getattr(module, name) is not None, name
    assert sorted(dir(module)) == sorted(module.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        _ = module.nothing_here


@pytest.mark.parametrize("package", LAZY)
def test_importing_the_package_loads_none_of_its_submodules(package: str) -> None:
    probe = (
        f"import sys, {package}\n"
        f"print(sorted(m for m in sys.modules if m.startswith('{package}.')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def _type_checking_names(module: object) -> set[str]:
    """The names a package imports under ``if TYPE_CHECKING:``, for type checkers."""
    tree = ast.parse(Path(module.__file__).read_text())  # type: ignore[attr-defined]
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for statement in node.body:
                if isinstance(statement, ast.ImportFrom):
                    names.update(alias.asname or alias.name for alias in statement.names)
    return names


def test_the_engine_declares_for_type_checkers_every_name_it_exports() -> None:
    """A type checker reads the imports under TYPE_CHECKING; the lazy table serves them at run
    time: a name in one and not the other would be unknown to one of them."""
    module = importlib.import_module("lead_pipeline.engine")
    assert _type_checking_names(module) == set(module.__all__) == set(dir(module))
