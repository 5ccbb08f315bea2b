"""The process seams of ``lead_pipeline.outlets``: streams and log records are scrubbed."""

from __future__ import annotations

import io
import logging

import pytest

from lead_pipeline.outlets import ScrubbingStream, _scrubbed_records

KEY = "sk-outlet-9f3a7c1e5b2d4680"


def test_a_key_split_over_writes_or_left_unfinished_is_still_masked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    out = io.StringIO()
    stream = ScrubbingStream(out)
    stream.write("error: got " + KEY[:9])
    stream.write(KEY[9:] + " back\nprogress " + KEY.upper() + "\r")
    stream.write("prompt " + KEY[3:15])  # no line end: held until flushed
    assert out.getvalue() == "error: got *** back\nprogress ***\r"
    stream.flush()
    assert out.getvalue().endswith("prompt ***")
    assert KEY[3:11].lower() not in out.getvalue().lower()
    assert stream.isatty() is False  # the wrapped stream answers the rest


def test_log_records_are_scrubbed_with_their_arguments_and_exceptions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", KEY)
    make = _scrubbed_records(logging.LogRecord)
    try:
        raise ValueError(f"refused {KEY}")
    except ValueError as exc:
        info = (type(exc), exc, exc.__traceback__)
    record = make("x", logging.ERROR, __file__, 1, "sent %s to %r", ("a", KEY), info)
    text = logging.Formatter().format(record)
    assert "sent a to '***'" in text and "refused ***" in text
    assert KEY[:8] not in text
