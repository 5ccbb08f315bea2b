"""The package's layers, as the README's layout describes them, checked on the source.

Workflows, the engine, providers, leads and the store know nothing of Dagster, so
they can be run, tested and reused without it; ``defs/`` wires them into Dagster
definitions and knows nothing of the code that launches runs (``launching/``) or of
the command line, which sit above it. An import that breaks a layer fails here, by
file and line, instead of surfacing as an import cycle or a slow ``--help``.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "lead_pipeline"
# Only these may import Dagster: the definitions and what launches runs or calls them.
DAGSTER_ALLOWED = ("defs", "launching", "cli")
ABOVE_DEFS = ("lead_pipeline.launching", "lead_pipeline.cli")


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def _modules() -> list[tuple[str, Path]]:
    return [
        (path.relative_to(PACKAGE).parts[0], path)
        for path in sorted(PACKAGE.rglob("*.py"))
        if len(path.relative_to(PACKAGE).parts) > 1
    ]


def _is(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def test_only_the_dagster_layers_import_dagster() -> None:
    wrong = [
        f"{path.relative_to(PACKAGE.parent)}:{line} imports {name}"
        for layer, path in _modules()
        if layer not in DAGSTER_ALLOWED
        for line, name in _imports(path)
        if _is(name, "dagster") or name.startswith("dagster_")
    ]
    top_level = [
        f"{path.name}:{line} imports {name}"
        for path in PACKAGE.glob("*.py")
        for line, name in _imports(path)
        if _is(name, "dagster")
    ]
    assert wrong + top_level == []


def test_nothing_below_the_command_line_imports_what_sits_above_it() -> None:
    wrong = [
        f"{path.relative_to(PACKAGE.parent)}:{line} imports {name}"
        for layer, path in _modules()
        if layer not in ("launching", "cli")
        for line, name in _imports(path)
        if any(_is(name, above) for above in ABOVE_DEFS)
    ]
    assert wrong == []


def test_the_layers_below_defs_do_not_import_it() -> None:
    wrong = [
        f"{path.relative_to(PACKAGE.parent)}:{line} imports {name}"
        for layer, path in _modules()
        if layer not in ("defs", "launching", "cli")
        for line, name in _imports(path)
        if _is(name, "lead_pipeline.defs")
    ]
    assert wrong == []


def test_the_check_sees_imports_at_all() -> None:
    """A walker that found nothing would pass the three tests above: it must see these."""
    defs_imports = {
        name for layer, path in _modules() if layer == "defs" for _, name in _imports(path)
    }
    assert "dagster" in defs_imports
    assert any(_is(name, "lead_pipeline.engine") for name in defs_imports)


def _package_graph() -> dict[str, set[str]]:
    """Which of our packages imports which, counting imports inside functions and under
    TYPE_CHECKING too: a cycle hidden in a function is still a cycle."""
    graph: dict[str, set[str]] = {}
    for layer, path in _modules():
        for _, name in _imports(path):
            if name.startswith("lead_pipeline.") and name.split(".")[1] != layer:
                graph.setdefault(layer, set()).add(name.split(".")[1])
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as the packages along it, or None."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        for nxt in sorted(graph.get(node, ())):
            found = visit(nxt, [*path, node])
            if found:
                return found
        done.add(node)
        return None

    for start in sorted(graph):
        found = visit(start, [])
        if found:
            return found
    return None


def test_no_package_imports_one_that_imports_it_back() -> None:
    assert _cycle(_package_graph()) is None
    assert _cycle({"leads": {"workflows"}, "workflows": {"leads"}}) == [
        "leads",
        "workflows",
        "leads",
    ]
