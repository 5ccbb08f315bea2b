"""Packages whose names load on first use (lead_pipeline/lazy.py) still offer every name."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest

from lead_pipeline_tests.conftest import REPO_ROOT

LAZY = [
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
