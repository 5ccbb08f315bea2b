"""A record of the provider calls one node made for one row, for the row trace.

The runner opens :func:`recording` around a node's run; every call that goes through
``CallPolicy.run`` (the one place each provider call passes: cache, budget, call) adds a
:class:`CallRecord`, and the HTTP layers below it note each attempt's endpoint and
status on the record of the call they serve. Context variables carry both, so rows in
flight, and a node's concurrent calls, never see each other's records, and nothing is
recorded (and nothing paid for) outside a recording.

Bounded: at most :data:`MAX_CALLS_KEPT` calls per node result are kept; the rest are
counted, not stored. Error texts are scrubbed of secrets before they are kept.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from lead_pipeline.providers.cost import Usage
from lead_pipeline.providers.redact import excerpt

MAX_CALLS_KEPT = 25
MAX_ERROR_CHARS = 300


@dataclass
class CallRecord:
    """One provider call: answered from the response cache, or live with its attempts."""

    provider: str
    endpoint: str | None = None  # "POST /v1/chat/completions", "GET https://acme.com/about"
    cached: bool = False
    status: int | None = None  # the last attempt's HTTP status
    attempts: int = 0  # HTTP requests sent (0 when cached)
    latency_ms: float = 0.0
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost: float = 0.0
    error: str | None = None
    # A question answered through a provider's batch API (``engine/batch_lane.py``): the
    # model asked, the batch, and the line's ``custom_id`` in it.
    model: str | None = None
    batch_id: str | None = None
    custom_id: str | None = None
    started: float = field(default=0.0, repr=False)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "provider": self.provider,
            "endpoint": self.endpoint,
            "cached": self.cached,
            "status": self.status,
            "attempts": self.attempts,
            "latency_ms": round(self.latency_ms, 1),
            "cost": self.cost,
        }
        if self.input_tokens is not None:
            out["input_tokens"] = self.input_tokens
            out["output_tokens"] = self.output_tokens
        if self.error is not None:
            out["error"] = self.error
        for name in ("model", "batch_id", "custom_id"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return out


@dataclass
class Recording:
    calls: list[CallRecord] = field(default_factory=list)
    dropped: int = 0

    def as_json(self) -> list[dict[str, Any]] | None:
        """What a node result keeps: the calls, and a last entry counting those left out."""
        if not self.calls and not self.dropped:
            return None
        kept = [c.as_dict() for c in self.calls]
        if self.dropped:
            kept.append({"dropped": self.dropped})
        return kept


_RECORDING: ContextVar[Recording | None] = ContextVar("lead_pipeline_calls", default=None)
_CURRENT: ContextVar[CallRecord | None] = ContextVar("lead_pipeline_call", default=None)


@contextmanager
def recording() -> Iterator[Recording]:
    """Record the provider calls made inside the block (in this task and tasks it starts)."""
    made = Recording()
    token = _RECORDING.set(made)
    try:
        yield made
    finally:
        _RECORDING.reset(token)


@contextmanager
def call_record(provider: str) -> Iterator[CallRecord | None]:
    """The record of one call through ``CallPolicy.run``; None outside a recording."""
    made = _RECORDING.get()
    if made is None:
        yield None
        return
    record = CallRecord(provider, started=time.perf_counter())
    if len(made.calls) < MAX_CALLS_KEPT:
        made.calls.append(record)
    else:
        made.dropped += 1
    token = _CURRENT.set(record)
    try:
        yield record
    except BaseException as exc:
        record.error = excerpt(str(exc) or type(exc).__name__, MAX_ERROR_CHARS)
        record.cost = float(getattr(exc, "cost", 0.0) or 0.0)  # a failed call may be billed
        raise
    finally:
        record.latency_ms = (time.perf_counter() - record.started) * 1000
        _CURRENT.reset(token)


def finish(record: CallRecord | None, *, cached: bool, cost: float, usage: Usage | None) -> None:
    if record is None:
        return
    record.cached = cached
    record.cost = cost
    if usage is not None:
        record.input_tokens = usage.input_tokens
        record.output_tokens = usage.output_tokens


def note_attempt(endpoint: str) -> None:
    """An HTTP request is about to be sent for the current call."""
    record = _CURRENT.get()
    if record is not None:
        record.attempts += 1
        record.endpoint = endpoint


def note_status(status: int) -> None:
    """The current call's latest request answered ``status``."""
    record = _CURRENT.get()
    if record is not None:
        record.status = status
