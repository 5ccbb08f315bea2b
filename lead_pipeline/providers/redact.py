"""Scrubbing secrets out of text before it reaches an exception, a log record or the store.

Providers sometimes echo the API key back in an error body ("Incorrect API key
provided: sk-..."), and a stray ``repr`` of a request can carry a header. Every
piece of text that leaves this package passes through :func:`scrub` so that a key
cannot travel from a provider's answer into Dagster's event log or the database.
"""

from __future__ import annotations

import base64
import functools
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus

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

# The same, for text already in lower case: a case-blind alternation is several times slower.
_FOLDED_PATTERNS = [re.compile(p.pattern.removeprefix("(?i)")) for p in _PATTERNS]

LOGGER_NAME = "lead_pipeline.providers"


# A run of this many characters of a key, in any case, is masked wherever it appears: a
# provider that cuts its message mid-key, or echoes "sk-abc...", must not leave a prefix.
FRAGMENT = 8


def _base64_cores(raw: bytes) -> set[str]:
    """The part of any base64 text containing ``raw`` that depends on ``raw`` alone.

    Base64 encodes three bytes as four characters, so the same key inside different text
    (``user:key`` of Basic auth, a JSON blob) encodes three ways depending on its offset; the
    groups made only of key bytes are fixed for each offset, and that is what is searched.
    """
    cores: set[str] = set()
    for offset in range(3):
        lead = (3 - offset) % 3  # bytes before the key in its first group
        encoded = base64.b64encode(b"\0" * lead + raw)
        first = 4 if lead else 0
        last = (lead + len(raw)) // 3 * 4
        core = encoded[first:last].decode()
        if len(core) >= FRAGMENT:
            cores |= {core, core.replace("+", "-").replace("/", "_")}
    return cores


def _variants(secret: str) -> set[str]:
    """A secret as it may appear in text: raw, URL-encoded (both ways), JSON-escaped, base64
    (standard and URL-safe, at each alignment). Case is handled by matching case-blind."""
    return {
        secret,
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
        secret.replace("/", "\\/"),
        *_base64_cores(secret.encode()),
    }


def _secret_values(extra: Iterable[object | None]) -> tuple[str, ...]:
    values: list[str] = []
    for value in [*settings.known_secrets(), *extra]:
        if value is None:
            continue
        raw = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        if len(raw) >= 4:
            values.append(raw)
    return tuple(sorted(set(values)))


@dataclass(frozen=True)
class SecretsIndex:
    """What a scan needs, built once per set of secrets: short forms (masked whole), every
    ``FRAGMENT``-character piece of the long ones, and a pattern for runs of the characters
    the long forms are made of (a piece of a secret can only sit inside such a run)."""

    short: tuple[str, ...]
    grams: dict[str, tuple[str, ...]]
    runs: re.Pattern[str] | None
    quads: frozenset[str] = frozenset()  # every 4 characters of a long form: the probe


@functools.lru_cache(maxsize=32)
def _index(values: tuple[str, ...]) -> SecretsIndex:
    forms: set[str] = set()
    for secret in values:
        forms |= {f.lower() for f in _variants(secret)}
    short = tuple(f for f in forms if len(f) < FRAGMENT)
    grams: dict[str, list[str]] = {}
    for form in forms - set(short):
        for i in range(len(form) - FRAGMENT + 1):
            grams.setdefault(form[i : i + FRAGMENT], []).append(form)
    alphabet = "".join(sorted({c for gram in grams for c in gram}))
    runs = re.compile(f"[{re.escape(alphabet)}]{{{FRAGMENT},}}") if alphabet else None
    quads = frozenset(g[i : i + 4] for g in grams for i in range(FRAGMENT - 3))
    return SecretsIndex(short, {g: tuple(f) for g, f in grams.items()}, runs, quads)


def secrets_index(extra: Iterable[object | None] = ()) -> SecretsIndex:
    """The secrets known now, ready for :func:`_scrub`: for a caller scrubbing many texts
    at once (the store, a batch of rows), which looks them up once."""
    return _index(_secret_values(extra))


def _run_spans(
    folded: str, start: int, stop: int, index: SecretsIndex, spans: list[tuple[int, int]]
) -> None:
    """The pieces of secrets in ``folded[start:stop]``, a run of the secrets' characters.

    A piece of ``FRAGMENT`` (8) characters starting at ``t`` holds the 4 characters at the
    one position ``i`` in ``t..t+3`` that is a multiple of 4; so only those positions are
    probed (a set lookup of 4 characters), and only a probe that hits looks for a piece
    starting at ``i-3..i``: a quarter of the lookups of trying every position.
    """
    grams, quads = index.grams, index.quads
    resume = start  # no piece starts inside one already found
    i = start + (-start) % 4
    while i + 4 <= stop:
        if folded[i : i + 4] not in quads:
            i += 4
            continue
        for t in range(max(resume, i - 3), min(i, stop - FRAGMENT) + 1):
            candidates = grams.get(folded[t : t + FRAGMENT])
            if not candidates:
                continue
            end = t + FRAGMENT
            for form in candidates:
                j = t + FRAGMENT
                while j < stop and folded[t : j + 1] in form:
                    j += 1
                end = max(end, j)
            spans.append((t, end))
            resume = end
            i = end + (-end) % 4 - 4  # the loop's step brings it to the next probe
            break
        i += 4


def _secret_spans(text: str, index: SecretsIndex) -> list[tuple[int, int]]:
    """Where ``text`` holds a form of a secret or a run of ``FRAGMENT`` or more of its
    characters, case-blind; overlapping spans are merged.

    Only the runs of the secrets' own characters are walked character by character (in
    prose, the long words): the rest of the text is skipped by the regular expression.
    """
    folded = text.lower()
    if len(folded) != len(text):  # a few characters lower-case to two; keep offsets aligned
        folded = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    spans: list[tuple[int, int]] = []
    for form in index.short:  # a short secret is only masked whole
        start = folded.find(form)
        while start >= 0:
            spans.append((start, start + len(form)))
            start = folded.find(form, start + 1)
    for run in index.runs.finditer(folded) if index.runs else ():
        _run_spans(folded, run.start(), run.end(), index, spans)
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def scrub(text: str, extra: Iterable[object | None] = ()) -> str:
    """``text`` with every known secret, every part of one, and every credential-looking
    token masked.

    A secret is masked raw, URL-encoded, JSON-escaped and base64-encoded, in any case, and
    so is any run of ``FRAGMENT`` or more of its characters (what survives when a provider
    or a length limit cuts a message mid-key). Scrub the whole text *before* cutting it to
    length: a cut can leave a piece too short to recognise. ``extra`` takes the calling
    provider's own key (a ``SecretStr`` or a plain string), which matters when it lives
    in a variable whose name ``settings.known_secrets`` does not recognise.
    """
    return scrub_with(text, _index(_secret_values(extra)))


def has_secret(text: str, index: SecretsIndex) -> bool:
    """Whether :func:`scrub_with` would change ``text``: one pass to clear a whole batch of
    texts joined together (a false alarm across a join only costs the scrub itself)."""
    if (index.short or index.grams) and _secret_spans(text, index):
        return True
    folded = text.lower()  # the patterns ignore case; searching folded text is faster
    return any(pattern.search(folded) for pattern in _FOLDED_PATTERNS)


def scrub_with(text: str, index: SecretsIndex) -> str:
    if not text:
        return text
    if index.short or index.grams:
        pieces: list[str] = []
        last = 0
        for start, end in _secret_spans(text, index):
            pieces += [text[last:start], MASK]
            last = end
        text = "".join([*pieces, text[last:]])
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text


def scrub_value(value: Any, extra: Iterable[object | None] = ()) -> Any:
    """``value`` (JSON-like: dicts, lists, text) with :func:`scrub` applied to every string in
    it, keys included: for answers a provider echoed a key into, before they are stored."""
    index = _index(_secret_values(extra))

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            return scrub_with(item, index)
        if isinstance(item, dict):
            return {walk(k): walk(v) for k, v in item.items()}
        if isinstance(item, list | tuple):
            return [walk(i) for i in item]
        return item

    return walk(value)


def excerpt(text: str, limit: int, extra: Iterable[object | None] = ()) -> str:
    """At most ``limit`` characters of ``text``, scrubbed first (never cut, then scrubbed)."""
    return scrub(text, extra)[:limit]


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
