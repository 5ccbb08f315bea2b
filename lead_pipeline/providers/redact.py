"""Scrubbing secrets out of text before it reaches an exception, a log record or the store.

Providers sometimes echo the API key back in an error body ("Incorrect API key
provided: sk-..."), and a stray ``repr`` of a request can carry a header. Every
piece of text that leaves this package passes through :func:`scrub` so that a key
cannot travel from a provider's answer into Dagster's event log or the database.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import quote

from pydantic import SecretStr

from lead_pipeline import settings

MASK = "***"

# Credentials in well-known textual shapes, scrubbed even when the value is not a
# known secret (a key from another environment pasted into an answer, say).
_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(
        r"(?i)((?:x-api-key|x-subscription-token|api[_-]?key)[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]{8,}"
    ),
]

LOGGER_NAME = "lead_pipeline.providers"


def _variants(secret: str) -> set[str]:
    """A secret as it may appear in text: raw, URL-encoded, JSON-escaped."""
    return {secret, quote(secret, safe=""), secret.replace("/", "\\/")}


def scrub(text: str, extra: Iterable[object | None] = ()) -> str:
    """``text`` with every known secret and every credential-looking token masked.

    ``extra`` takes the calling provider's own key (a ``SecretStr`` or a
    plain string), which matters when it lives in a variable whose name
    ``settings.known_secrets`` does not recognise.
    """
    if not text:
        return text
    secrets: set[str] = set()
    for value in [*settings.known_secrets(), *extra]:
        if value is None:
            continue
        raw = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        if len(raw) >= 4:
            secrets |= _variants(raw)
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text


class RedactingFilter(logging.Filter):
    """Scrubs each record's final message, so formatting arguments cannot smuggle a key."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record still must not leak its arguments
            message = str(record.msg)
        record.msg = scrub(message)
        record.args = ()
        return True


def get_logger() -> logging.Logger:
    """The providers' one logger, with the redacting filter attached exactly once.

    A single logger (rather than one per module) is used because a filter on a
    parent logger does not see records logged through its children.
    """
    logger = logging.getLogger(LOGGER_NAME)
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
    return logger
