"""The one way to extend lead-pipeline: entry points, read by one loader.

A package adds what it brings under an entry point group, and the built-ins
are listed the same way (entry points written in code, ``node_types.BUILTIN``),
so both go through :func:`load_group`: imported, checked, named in any error by
entry point and package, and refused when two claim one name.

- ``lead_pipeline.node_types``: ``NAME = package.module:object``, a
  ``registry.NodeType`` called NAME (its run, config, preflight and estimate);
- ``lead_pipeline.functions``: ``NAME = package.module:function``, a row
  function ``python`` nodes call by NAME.

``LEAD_PIPELINE_PLUGINS`` (modules imported for the row functions they register
with ``functions.row_function``) still works for now, with a deprecation
warning: an entry point does the same without importing code for its side effects.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from importlib.metadata import EntryPoint, entry_points

NODE_TYPES_GROUP = "lead_pipeline.node_types"
FUNCTIONS_GROUP = "lead_pipeline.functions"
PLUGINS_VARIABLE = "LEAD_PIPELINE_PLUGINS"


class PluginError(Exception):
    """A plugin's entry point cannot be used: it names the entry point and its package."""


def builtin(group: str, name: str, value: str) -> EntryPoint:
    """A built-in's entry point: what ``pyproject.toml`` would declare, written in code so
    that it does not depend on how this package was installed."""
    return EntryPoint(name=name, value=value, group=group)


def _dist(point: EntryPoint) -> str:
    dist = getattr(point, "dist", None)
    return f"package {dist.name}" if dist is not None else "lead-pipeline (built in)"


Check = Callable[[EntryPoint, object, str], None]


def load_group(
    group: str, *, builtins: Iterable[EntryPoint] = (), check: Check, twice: str
) -> dict[str, object]:
    """Every object of ``group``: the built-ins first, then the installed packages'.

    ``check(point, value, where)`` raises :class:`PluginError` for an object of the
    wrong kind; ``twice`` names the kind in the error for a name claimed twice
    (``"node type"``).
    """
    found: dict[str, object] = {}
    for point in [*builtins, *entry_points(group=group)]:
        where = f"entry point {point.name!r} ({point.value}) of {_dist(point)}"
        try:
            value = point.load()
        except Exception as exc:
            raise PluginError(f"{where} cannot be imported: {exc}") from exc
        check(point, value, where)
        if point.name in found and found[point.name] is not value:
            raise PluginError(f"{twice} {point.name!r} is defined twice")
        found[point.name] = value
    return found


def warn_plugins_variable(modules: list[str]) -> None:
    """Say, once per load, that ``LEAD_PIPELINE_PLUGINS`` is on its way out."""
    if modules:
        warnings.warn(
            f"{PLUGINS_VARIABLE} is deprecated and will be removed: declare the row "
            f"functions of {', '.join(modules)} as entry points under "
            f"[project.entry-points.{FUNCTIONS_GROUP!r}] of their package instead",
            FutureWarning,
            stacklevel=3,
        )
