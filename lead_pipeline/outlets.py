"""Every way text leaves a process of ours, scrubbed by :func:`providers.redact.scrub`.

A message that carries a key can be made anywhere (a provider's 207 answer, a plugin's
exception, a traceback); checking each place that makes one is how the HubSpot token
came to be printed in full. So the scrub sits where text *leaves*, which every path
crosses:

* the standard streams: ``sys.stdout`` and ``sys.stderr`` are replaced by
  :class:`ScrubbingStream`, so ``print``, the rich console, argparse, logging's stream
  handlers and a traceback are all scrubbed (Dagster's step processes inherit nothing
  of this: they call :func:`guard_process` when they load our definitions);
* Python logging: every record is scrubbed when it is made (``setLogRecordFactory``),
  formatting arguments and exception text included, whatever handler writes it;
* the lead store scrubs every text it writes (``store.connection``), and Dagster's
  event log every event (``defs.redaction``): both call :func:`providers.redact.scrub`.
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import Any, TextIO

from lead_pipeline.providers.redact import scrub

# A partial line is held until its end arrives (a key split over two writes is still
# seen whole), but never more than this many characters.
HELD_AT_MOST = 8192


class ScrubbingStream:
    """A text stream that writes what it is given, scrubbed, to the stream it wraps.

    Text is passed on a line at a time (``\\n`` or ``\\r``); the rest of a line waits for
    its end or for :meth:`flush`, which ``input()``, rich's live display and the
    interpreter's exit call. Everything else (``fileno``, ``isatty``, ``encoding``) is the
    wrapped stream's, so a terminal is still a terminal.
    """

    def __init__(self, wrapped: TextIO) -> None:
        self.wrapped = wrapped
        self._held = ""
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            data = self._held + text
            cut = max(data.rfind("\n"), data.rfind("\r")) + 1
            if len(data) - cut > HELD_AT_MOST:
                cut = len(data)
            self._held = data[cut:]
            if cut:
                self.wrapped.write(scrub(data[:cut]))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        with self._lock:
            if self._held:
                self.wrapped.write(scrub(self._held))
                self._held = ""
        self.wrapped.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.wrapped, name)


def _scrubbed_records(make: Any) -> Any:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = make(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed record still must not leak its arguments
            message = str(record.msg)
        record.msg, record.args = scrub(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
        return record

    factory.scrubs = True  # type: ignore[attr-defined]
    return factory


_installed = threading.Lock()


def guard_process() -> None:
    """Scrub this process's standard streams and log records; calling it again does nothing."""
    with _installed:
        for name in ("stdout", "stderr"):
            stream = getattr(sys, name)
            if stream is not None and not isinstance(stream, ScrubbingStream):
                setattr(sys, name, ScrubbingStream(stream))
        make = logging.getLogRecordFactory()
        if not getattr(make, "scrubs", False):
            logging.setLogRecordFactory(_scrubbed_records(make))
