"""Dagster's private names enter the package through ``defs/dagster_private/`` alone.

Read from the source (``ast``), not by importing: an import inside a function, under
``TYPE_CHECKING`` or in a module no test loads counts the same.
"""

from __future__ import annotations

import ast
from pathlib import Path

import lead_pipeline

PACKAGE = Path(lead_pipeline.__file__).parent
GATHERED = PACKAGE / "defs" / "dagster_private"  # a package: Dagster's names, then Celery's
# Module names, not imports (see dagster_private): the step server's preload list, and
# the modules whose tick evaluation the redaction wraps when they are already loaded.
NAMED = {
    (PACKAGE / "defs" / "__init__.py", "dagster._core.executor.multiprocess"),
    (PACKAGE / "defs" / "preload.py", "dagster._core.instance.factory"),
    *(
        (PACKAGE / "defs" / "redaction.py", module)
        for module in (
            "dagster._grpc.impl",
            "dagster._grpc.server",
            "dagster._core.remote_representation.code_location",
        )
    ),
}


def _private(module: str, names: list[str]) -> bool:
    """Whether ``from module import names`` (or ``import module``) reaches past
    Dagster's public names: an underscore module of a Dagster package, a name that
    starts with one, or any ``dagster_celery`` module but the package itself."""
    top, _, rest = module.partition(".")
    if not (top == "dagster" or top.startswith("dagster_")):
        return False
    if any(part.startswith("_") for part in module.split(".")[1:]):
        return True
    if top == "dagster_celery" and rest:
        return True  # dagster_celery publishes ``celery_executor`` from its top only
    return any(name.startswith("_") for name in names)


def private_uses(path: Path) -> list[str]:
    """``path``'s imports of private Dagster names, and its strings naming a private
    Dagster module, as ``line: text``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if _private(node.module, [a.name for a in node.names]):
                found.append(f"{node.lineno}: from {node.module} import ...")
        elif isinstance(node, ast.Import):
            found += [f"{node.lineno}: import {a.name}" for a in node.names if _private(a.name, [])]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            value = node.value
            if value.startswith("dagster._") and " " not in value and (path, value) not in NAMED:
                found.append(f"{node.lineno}: {value!r}")
    return sorted(found, key=lambda use: int(use.split(":")[0]))


def test_only_the_gathering_package_imports_private_dagster_names() -> None:
    offenders = {
        str(path.relative_to(PACKAGE)): uses
        for path in sorted(PACKAGE.rglob("*.py"))
        if GATHERED not in path.parents and (uses := private_uses(path))
    }
    assert offenders == {}


def test_the_check_sees_each_kind_of_private_import(tmp_path: Path) -> None:
    """The check above cannot pass by seeing nothing: each form is caught, public
    imports are not."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from typing import TYPE_CHECKING\n"
        "import dagster as dg\n"
        "from dagster import DagsterInstance, serialize_value\n"
        "from dagster_celery import celery_executor\n"
        "if TYPE_CHECKING:\n"
        "    from dagster._utils.error import SerializableErrorInfo\n"
        "import dagster._core.events\n"
        "from dagster_celery.executor import _submit_task\n"
        "from dagster_k8s import _private_name\n"
        "def f():\n"
        "    from dagster._serdes import deserialize_value\n"
        "    return 'dagster._core.instance'\n"
    )
    assert [use.split(":")[0] for use in private_uses(sample)] == ["6", "7", "8", "9", "11", "12"]
    for gathered in GATHERED.glob("*.py"):  # the gathering modules are seen to import them
        assert private_uses(gathered), gathered
