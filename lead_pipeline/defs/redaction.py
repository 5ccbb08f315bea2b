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
"""

from __future__ import annotations

import functools
import json
from typing import Any

from dagster._core.events.log import EventLogEntry
from dagster._core.instance import DagsterInstance
from dagster._serdes import deserialize_value, serialize_value

from lead_pipeline.outlets import guard_process
from lead_pipeline.providers.redact import scrub, scrub_value


def scrubbed_event(entry: EventLogEntry) -> EventLogEntry:
    """``entry`` with every text in it scrubbed (the same entry when nothing was found)."""
    text = serialize_value(entry)
    if scrub(text) == text:
        return entry
    return deserialize_value(json.dumps(scrub_value(json.loads(text))), EventLogEntry)


def _scrubbing(store: Any) -> Any:
    @functools.wraps(store)
    def wrapper(self: DagsterInstance, event: EventLogEntry, *args: Any, **kwargs: Any) -> Any:
        return store(self, scrubbed_event(event), *args, **kwargs)

    wrapper.scrubs = True  # type: ignore[attr-defined]
    return wrapper


def guard_event_log() -> None:
    """Scrub every event this process stores, and its streams and log records; idempotent."""
    guard_process()
    for name in ("handle_new_event", "store_event"):
        method = getattr(DagsterInstance, name)
        if not getattr(method, "scrubs", False):
            setattr(DagsterInstance, name, _scrubbing(method))
