"""Dagster's event log, scrubbed: every event a process of ours stores passes the scrubber.

A ``dg.Failure`` description, a ``context.log`` line, an exception's message and stack,
materialization metadata: each becomes an ``EventLogEntry`` that Dagster stores through
``DagsterInstance.handle_new_event`` (or ``store_event``), whichever op, check, sensor or
executor made it. Those two methods are where every event crosses, so they are wrapped
here, once per process (the CLI, each step process, a code server, a Celery worker: each
loads :mod:`lead_pipeline.defs.definitions`, which calls :func:`guard_event_log`).

An event is serialized, scrubbed as text, and read back only when the scrub changed
something; the scrub walks the decoded JSON, so the result is always an event Dagster
can read. Dagster's own serialization is used, so every kind of event is covered,
including those a later Dagster adds.

A sensor's or schedule's tick is not an event: the code server evaluates it
(``dagster._grpc.impl.get_external_sensor_execution``, ``..._schedule_execution``) and
hands the result (a skip reason, run requests, a cursor, or the error and stack of an
exception) to the daemon, which stores it in the tick record. That function is where
every tick crosses out of a process of ours, whether the daemon asks over gRPC or loads
the code in its own process, so its result is scrubbed the same way. Its callers import
it by name, so each loaded module holding it is patched; they are all loaded before a
code server or an in-process code location loads our definitions, and a process that
evaluates no tick (the CLI, a step process) is spared importing them.
"""

from __future__ import annotations

import functools
import json
import sys
from typing import Any, TypeVar

from dagster import DagsterInstance, EventLogEntry, deserialize_value, serialize_value

from lead_pipeline.outlets import guard_process
from lead_pipeline.providers.redact import scrub, scrub_value

T = TypeVar("T")

# The functions that evaluate a tick in the code's process, and the modules that call them.
TICK_FUNCTIONS = ("get_external_sensor_execution", "get_external_schedule_execution")
TICK_MODULES = (
    "dagster._grpc.impl",
    "dagster._grpc.server",
    "dagster._core.remote_representation.code_location",
)


def scrubbed_value(value: T) -> T:
    """A serializable Dagster value with every text in it scrubbed (itself when clean)."""
    text = serialize_value(value)  # type: ignore[arg-type]
    if scrub(text) == text:
        return value
    scrubbed = json.dumps(scrub_value(json.loads(text)))
    return deserialize_value(scrubbed, type(value))  # type: ignore[type-var]


def scrubbed_event(entry: EventLogEntry) -> EventLogEntry:
    """``entry`` with every text in it scrubbed (the same entry when nothing was found)."""
    return scrubbed_value(entry)


def _scrubbing(store: Any) -> Any:
    @functools.wraps(store)
    def wrapper(self: DagsterInstance, event: EventLogEntry, *args: Any, **kwargs: Any) -> Any:
        return store(self, scrubbed_event(event), *args, **kwargs)

    wrapper.scrubs = True  # type: ignore[attr-defined]
    return wrapper


def _scrubbing_tick(evaluate: Any) -> Any:
    @functools.wraps(evaluate)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return scrubbed_value(evaluate(*args, **kwargs))

    wrapper.scrubs = True  # type: ignore[attr-defined]
    return wrapper


def guard_ticks() -> None:
    """Scrub what each tick evaluated in this process hands the daemon; idempotent."""
    for module_name in TICK_MODULES:
        module = sys.modules.get(module_name)
        for name in TICK_FUNCTIONS:
            evaluate = getattr(module, name, None)
            if evaluate is not None and not getattr(evaluate, "scrubs", False):
                setattr(module, name, _scrubbing_tick(evaluate))


def guard_event_log() -> None:
    """Scrub every event this process stores, every tick it evaluates, and its streams and
    log records; idempotent."""
    guard_process()
    for name in ("handle_new_event", "store_event"):
        method = getattr(DagsterInstance, name)
        if not getattr(method, "scrubs", False):
            setattr(DagsterInstance, name, _scrubbing(method))
    guard_ticks()
