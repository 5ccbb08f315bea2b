"""Registered Python functions for ``python`` nodes: computed columns in code.

Only registered names can be called from YAML, never a dotted path from the
file, so a workflow file cannot import arbitrary modules. Users register their
own by listing modules in ``LEAD_PIPELINE_PLUGINS`` (comma separated).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from lead_pipeline.settings import get_settings

RowFunction = Callable[..., Any]
_FUNCTIONS: dict[str, RowFunction] = {}
_plugins_loaded = False


def row_function(name: str) -> Callable[[RowFunction], RowFunction]:
    """Register ``fn(values: Mapping, **args) -> dict`` (sync or async) under ``name``."""

    def wrap(fn: RowFunction) -> RowFunction:
        if name in _FUNCTIONS and _FUNCTIONS[name] is not fn:
            raise ValueError(f"python function {name!r} is registered twice")
        _FUNCTIONS[name] = fn
        return fn

    return wrap


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for module in get_settings().plugins:
        importlib.import_module(module)


def get_function(name: str) -> RowFunction:
    _load_plugins()
    try:
        return _FUNCTIONS[name]
    except KeyError:
        known = ", ".join(sorted(_FUNCTIONS)) or "none"
        raise KeyError(f"no python function {name!r} is registered (known: {known})") from None


async def call_function(name: str, values: Mapping[str, Any], args: Mapping[str, Any]) -> Any:
    result = get_function(name)(values, **args)
    if inspect.isawaitable(result):
        result = await result
    return result
