"""The one reader of provider answers: a body is streamed, decompressed by us, and capped.

Every HTTP answer from a provider (API JSON through :func:`providers.http.request_json`,
web pages through :mod:`providers.fetch`) is read here, so one place bounds memory and
time. The body arrives as raw bytes and is inflated piece by piece with a bounded output
per step, so a gzip bomb (1 MB that inflates to 1 GB) costs at most the cap plus one
piece: reading stops as soon as the decompressed size passes the cap, and the answer is
refused with one line (``serper: answer larger than 4 MB after decompression; refused``)
or, for a web page, cut there. The caller reads inside its request's total deadline
(``asyncio.timeout``), and every piece is awaited from the network, so a trickling
server is cut off by that deadline like a slow one.

Only ``gzip`` and ``deflate`` are asked for (``Accept-Encoding``), and only they (and
``identity``) are decoded: a server answering in another encoding is refused rather than
handed to a decoder whose output we cannot bound.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Iterator, Mapping
from typing import Any

import httpx2

from lead_pipeline.providers.errors import InvalidAnswer, ProviderError
from lead_pipeline.providers.redact import FRAGMENT, excerpt

ACCEPT_ENCODING = "gzip, deflate"
MB = 1_000_000
# The documented default caps, by kind of provider (``LEAD_PIPELINE_ANSWER_LIMITS``
# overrides them by provider name, or all of them with ``default``). An API answer is
# a JSON document of a few KB to a few hundred KB (a 100-record HubSpot batch, 100
# search results); a few MB leaves room without letting one row hold hundreds.
DEFAULT_LIMIT = 4 * MB
KIND_LIMITS: dict[str, int] = {
    # LLMs: a completion of a few thousand tokens is tens of KB.
    "openai": 4 * MB,
    "anthropic": 4 * MB,
    # Search: 100 results with snippets are about 100 KB.
    "serper": 4 * MB,
    "brave": 4 * MB,
    # Email finders: one person's record.
    "hunter": 1 * MB,
    "hunter_verify": 1 * MB,
    "apollo": 1 * MB,
    "pdl": 1 * MB,
    # HubSpot: a 100-record batch with the properties it echoes back.
    "hubspot": 8 * MB,
}
# An error answer is read only for the excerpt its message keeps.
ERROR_BODY_LIMIT = 64_000
# Each inflation step yields at most this much, so memory past the cap is one piece.
PIECE = 64 * 1024


class AnswerTooLarge(ProviderError):
    """The answer's body, decompressed, is larger than the provider's cap. Not an
    :class:`InvalidAnswer`: those are asked again once, and a provider that sent a bomb
    would only send it again."""


def size_text(size: int) -> str:
    """``4 MB``, ``512 KB``, ``300 bytes``: a cap as a person reads it."""
    if size >= MB and size % (MB // 10) == 0:
        return f"{size / MB:g} MB"
    if size >= 1000 and size % 100 == 0:
        return f"{size / 1000:g} KB"
    return f"{size} bytes"


def answer_limit(provider: str, configured: Mapping[str, int] | None = None) -> int:
    """The cap for ``provider``'s answers: its configured size, the configured ``default``,
    its kind's documented default, else :data:`DEFAULT_LIMIT` (``http`` nodes)."""
    configured = configured or {}
    if provider in configured:
        return configured[provider]
    if "default" in configured:
        return configured["default"]
    return KIND_LIMITS.get(provider, DEFAULT_LIMIT)


class _Inflater:
    """Decodes one ``Content-Encoding`` in bounded pieces (zlib's ``max_length``)."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._first = True
        self._d = self._new()

    def _new(self, raw_deflate: bool = False) -> Any:
        if self.encoding in ("gzip", "x-gzip"):
            return zlib.decompressobj(zlib.MAX_WBITS | 16)
        return zlib.decompressobj(-zlib.MAX_WBITS if raw_deflate else zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        while True:
            try:
                out = self._d.decompress(data, PIECE)
            except zlib.error:
                if self._first and self.encoding == "deflate":
                    # Some servers send raw deflate without the zlib header: as httpx2 does.
                    self._first = False
                    self._d = self._new(raw_deflate=True)
                    out = self._d.decompress(data, PIECE)
                else:
                    raise
            self._first = False
            if out:
                yield out
            data = self._d.unconsumed_tail
            if self._d.eof and self._d.unused_data.startswith(b"\x1f\x8b"):
                data = self._d.unused_data  # another gzip member follows
                self._d = self._new()
                continue
            if not data and len(out) < PIECE:
                return


def _pieces(raw: bytes, inflaters: list[_Inflater]) -> Iterator[bytes]:
    """``raw`` through each decoder in turn (the last encoding applied is undone first)."""
    if not inflaters:
        if raw:
            yield raw
        return
    for piece in inflaters[0].feed(raw):
        yield from _pieces(piece, inflaters[1:])


def _inflaters(response: httpx2.Response, provider: str) -> list[_Inflater]:
    header = response.headers.get("content-encoding", "")
    encodings = [e.strip().lower() for e in header.split(",") if e.strip()]
    inflaters: list[_Inflater] = []
    for encoding in reversed(encodings):
        if encoding == "identity":
            continue
        if encoding not in ("gzip", "x-gzip", "deflate"):
            raise InvalidAnswer(
                f"{provider}: answer is encoded as {encoding!r}, which was not asked for "
                f"(Accept-Encoding: {ACCEPT_ENCODING}); refused",
                provider=provider,
                status=response.status_code,
            )
        inflaters.append(_Inflater(encoding))
    return inflaters


async def read_body(
    response: httpx2.Response, *, provider: str, limit: int, cut: bool = False
) -> tuple[bytes, bool]:
    """The decompressed body of a streamed ``response``, and whether it was cut.

    Past ``limit`` bytes after decompression the answer is refused with
    :class:`AnswerTooLarge`, or with ``cut`` returned as its first ``limit`` bytes
    (a web page, an error body kept for its excerpt). Nothing beyond the cap plus
    one piece is ever held. Call it inside the request's deadline.
    """
    inflaters = _inflaters(response, provider)
    declared = response.headers.get("content-length", "")
    if not inflaters and not cut and declared.isdigit() and int(declared) > limit:
        raise _too_large(provider, limit, response.status_code)
    body = bytearray()
    try:
        async for raw in response.aiter_raw():
            for piece in _pieces(raw, inflaters):
                body += piece
                if len(body) > limit:
                    if cut:
                        return bytes(body[:limit]), True
                    raise _too_large(provider, limit, response.status_code)
    except zlib.error as exc:
        raise InvalidAnswer(
            f"{provider}: answer's {response.headers.get('content-encoding')} encoding is "
            f"corrupt: {exc}",
            provider=provider,
            status=response.status_code,
        ) from None
    return bytes(body), False


def _too_large(provider: str, limit: int, status: int) -> AnswerTooLarge:
    return AnswerTooLarge(
        f"{provider}: answer larger than {size_text(limit)} after decompression; refused",
        provider=provider,
        status=status,
    )


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a finite number")


def parse_json(body: bytes) -> Any:
    """Strict JSON: ``NaN`` and ``Infinity`` are not JSON, and a provider that sends them
    has not answered; numbers too large for a float (``1e400``) are refused the same way."""
    value = json.loads(body, parse_constant=_refuse_constant, parse_float=_finite_float)
    return value


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]} is not a finite number")
    return value


def text_excerpt(text: str, limit: int, secrets: Any = ()) -> str:
    """At most ``limit`` characters of ``text`` for an error message, scrubbed of secrets.

    Only a window a little longer than ``limit`` is scrubbed, never the whole text
    (scrubbing costs about 0.35 s per MB). When the text goes on past the window, the
    window's last ``FRAGMENT`` characters are dropped too: a secret cut there could be too
    short a piece for the scrubber to recognise.
    """
    window = limit + 256
    if len(text) > window:
        text = text[: window - FRAGMENT]
    return excerpt(text, limit, secrets)


def body_excerpt(body: bytes, limit: int, secrets: Any = ()) -> str:
    """:func:`text_excerpt` of a body, decoding only the bytes the excerpt can need."""
    taken = 4 * (limit + 256)  # a UTF-8 character is at most 4 bytes
    text = body[:taken].decode("utf-8", "replace")
    if len(body) > taken and len(text) <= limit + 256:
        text = text[: len(text) - FRAGMENT]  # the cut may have split a secret
    return text_excerpt(text, limit, secrets)


__all__ = [
    "ACCEPT_ENCODING",
    "AnswerTooLarge",
    "answer_limit",
    "body_excerpt",
    "parse_json",
    "read_body",
    "size_text",
    "text_excerpt",
]
