"""Registered Python functions for ``python`` nodes: computed columns in code.

Only registered names can be called from YAML, never a dotted path from the
file, so a workflow file cannot import arbitrary modules. A package
declares it under the ``lead_pipeline.functions`` entry point group
(``initials = my_pkg.rows:initials``), loaded like node types
(``engine/plugins.py``): the entry point's name is the name workflows call it by.

Deprecated, still working: a module listed in ``LEAD_PIPELINE_PLUGINS``
decorates it with :func:`row_function`; loading one says it is deprecated.
"""

from __future__ import annotations

import importlib
import inspect
import threading
from collections.abc import Callable, Mapping
from importlib.metadata import EntryPoint
from typing import Any, cast

from lead_pipeline.engine.plugins import (
    FUNCTIONS_GROUP,
    PLUGINS_VARIABLE,
    PluginError,
    load_group,
    warn_plugins_variable,
)
from lead_pipeline.settings import get_settings

RowFunction = Callable[..., Any]
_FUNCTIONS: dict[str, RowFunction] = {}
_FROM_PLUGINS: set[str] = set()
_plugins_loaded = False
_lock = threading.RLock()


def row_function(name: str) -> Callable[[RowFunction], RowFunction]:
    """Register ``fn(values: Mapping, **args) -> dict`` (sync or async) under ``name``."""

    def wrap(fn: RowFunction) -> RowFunction:
        _add(name, fn, f"python function {name!r}")
        return fn

    return wrap


def _add(name: str, fn: RowFunction, where: str) -> None:
    if not callable(fn):
        raise TypeError(f"{where} is {type(fn).__name__}, not a function")
    if name in _FUNCTIONS and _FUNCTIONS[name] is not fn:
        raise ValueError(f"python function {name!r} is registered twice")
    _FUNCTIONS[name] = fn


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    with _lock:
        if _plugins_loaded:
            return
        found = load_group(FUNCTIONS_GROUP, check=_check, twice="python function")
        for name, fn in found.items():
            _add(name, cast(RowFunction, fn), f"entry point {name!r}")
            _FROM_PLUGINS.add(name)
        before = set(_FUNCTIONS)
        modules = get_settings().plugins
        warn_plugins_variable(modules)
        for module in modules:
            try:
                importlib.import_module(module)
            except Exception as exc:
                raise ImportError(
                    f"{PLUGINS_VARIABLE} names module {module!r}, which cannot be "
                    f"imported: {type(exc).__name__}: {exc}"
                ) from exc
        _FROM_PLUGINS.update(set(_FUNCTIONS) - before)
        _plugins_loaded = True


def _check(point: EntryPoint, value: object, where: str) -> None:
    if not callable(value):
        raise PluginError(f"{where} is {type(value).__name__}, not a function")


def reset_functions() -> None:
    """Look for plugin functions again at the next call (tests install plugins)."""
    global _plugins_loaded
    for name in _FROM_PLUGINS:
        _FUNCTIONS.pop(name, None)
    _FROM_PLUGINS.clear()
    _plugins_loaded = False


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
