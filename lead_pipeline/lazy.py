"""Package namespaces that import a submodule only when one of its names is first used.

A package's ``__init__`` that imports every submodule makes any import from
the package pay for all of them: ``from lead_pipeline.providers.errors import
NotConfigured`` used to load httpx, trafilatura and every provider client, and
``lead-pipeline --help`` took seconds. With :func:`lazy_exports` the package
still offers the same names (``from lead_pipeline.providers import scrub``
works), each loaded from its submodule on first access (PEP 562).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, Sequence[str]]
) -> tuple[list[str], Callable[[str], Any], Callable[[], list[str]]]:
    """``__all__``, ``__getattr__`` and ``__dir__`` for ``package``.

    ``exports`` maps each submodule (relative to ``package``) to the names it
    provides; a name is looked up in its submodule the first time it is used.
    """
    where = {name: module for module, names in exports.items() for name in names}
    if len(where) != sum(len(names) for names in exports.values()):
        raise ValueError(f"{package}: a name is listed under two submodules")
    public = sorted(where)

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    def __dir__() -> list[str]:
        return public

    return public, __getattr__, __dir__
