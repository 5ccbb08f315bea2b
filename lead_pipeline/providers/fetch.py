"""A lead's website as readable text, fetched with the SSRF guard on every hop.

Redirects are followed by hand so that each hop is resolved and checked before
any byte is sent to it; the body is read by the one reader of provider answers
(:func:`answer.read_body`) and cut at ``max_bytes`` after decompression, within the
fetch's ``timeout``, so a huge, endless or gzip-bombed page cannot exhaust memory or time.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from html import unescape
from typing import Any

import httpx2

from lead_pipeline.providers.answer import read_body
from lead_pipeline.providers.calls import note_attempt, note_status
from lead_pipeline.providers.errors import FetchFailed, InvalidAnswer, ProviderUnavailable
from lead_pipeline.providers.http import RETRYABLE_STATUS
from lead_pipeline.providers.policy import Paid, ProviderResponse, Tab
from lead_pipeline.providers.redact import get_logger
from lead_pipeline.providers.retry import Try, retrying
from lead_pipeline.providers.session import ProviderSession, opens_session
from lead_pipeline.providers.urlguard import UrlGuard, normalise_url, pinned

FETCH = "fetch"
DEFAULT_MAX_BYTES = 2_000_000
DEFAULT_MAX_REDIRECTS = 5
DEFAULT_TIMEOUT = 20.0
DEFAULT_MAX_CHARS = 50_000
REDIRECT_STATUS = {301, 302, 303, 307, 308}
TEXT_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "application/xml", "text/xml")
ACCEPT = "text/html,application/xhtml+xml;q=0.9,text/plain;q=0.8,*/*;q=0.1"
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)
_CHARSET = re.compile(r"charset=([\w.-]+)", re.IGNORECASE)


@dataclass(frozen=True)
class Page:
    """``url`` as asked (normalised), ``final_url`` after redirects; ``truncated``
    when the body was cut at ``max_bytes``."""

    url: str
    final_url: str
    status: int
    content_type: str
    title: str | None
    text: str
    truncated: bool
    bytes_read: int
    redirects: list[str]
    # When it was downloaded (ISO 8601, UTC): a cached page keeps its first fetch's time,
    # which is what research evidence cites. None in pages cached before it was kept.
    fetched_at: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Body:
    url: httpx2.URL
    status: int
    content_type: str
    body: bytes
    truncated: bool
    redirects: list[str]


async def _connect(
    client: httpx2.AsyncClient, target: httpx2.URL, addresses: list[str], timeout: float
) -> httpx2.Response:
    """Send the request to each checked address in turn until one accepts the connection
    (pinned to that address: see :func:`urlguard.pinned`)."""
    for index, ip in enumerate(addresses):
        url, host, extensions = pinned(target, ip)
        request = client.build_request(
            "GET",
            url,
            headers={**host, "Accept": ACCEPT},
            extensions=extensions,
            timeout=httpx2.Timeout(timeout),
        )
        try:
            return await client.send(request, stream=True)
        except httpx2.ConnectError:
            if index == len(addresses) - 1:
                raise
    raise AssertionError("resolve() returns at least one address")


async def _download(
    session: ProviderSession,
    guard: UrlGuard,
    start: httpx2.URL,
    *,
    max_bytes: int,
    max_redirects: int,
    timeout: float,
) -> _Body:
    client = session.fetch_client
    limiter = session.policy(FETCH).limiter
    target = start
    visited = {str(start)}
    redirects: list[str] = []
    while True:
        addresses = await guard.resolve(target)
        try:
            async with limiter.slot(), asyncio.timeout(timeout):
                note_attempt(f"GET {target}")
                response = await _connect(client, target, addresses, timeout)
                try:
                    status = response.status_code
                    note_status(status)
                    location = response.headers.get("location")
                    if status in REDIRECT_STATUS and location:
                        nxt = target.join(location.strip()).copy_with(fragment=None)
                        if str(nxt) in visited:
                            raise FetchFailed(f"redirect loop: {target} -> {nxt}", status=status)
                        if len(redirects) >= max_redirects:
                            raise FetchFailed(
                                f"too many redirects (more than {max_redirects}) from {start}",
                                status=status,
                            )
                        guard.check_url(nxt)
                        visited.add(str(nxt))
                        redirects.append(str(nxt))
                        target = nxt
                        continue
                    if status in RETRYABLE_STATUS:
                        raise ProviderUnavailable(f"{target} answered HTTP {status}", status=status)
                    if status >= 400:
                        raise FetchFailed(f"{target} answered HTTP {status}", status=status)
                    content_type = response.headers.get("content-type", "").lower()
                    media = content_type.split(";", 1)[0].strip()
                    if media and media not in TEXT_TYPES:
                        raise FetchFailed(f"{target} is not a web page ({media})", status=status)
                    body, truncated = await read_body(
                        response, provider=FETCH, limit=max_bytes, cut=True
                    )
                    return _Body(target, status, content_type, body, truncated, redirects)
                finally:
                    await response.aclose()
        except InvalidAnswer as exc:  # an encoding the reader refuses, or a corrupt one
            raise FetchFailed(f"{target}: {exc.message.removeprefix(FETCH + ': ')}") from None
        except (httpx2.TimeoutException, TimeoutError):
            raise ProviderUnavailable(f"{target} timed out after {timeout:.0f}s") from None
        except httpx2.TransportError as exc:
            raise ProviderUnavailable(f"{target} failed: {type(exc).__name__}: {exc}") from None


def _decode(body: bytes, content_type: str) -> str:
    match = _CHARSET.search(content_type)
    encoding = match.group(1) if match else "utf-8"
    try:
        return body.decode(encoding, "replace")
    except LookupError:
        return body.decode("utf-8", "replace")


def extract_text(body: bytes, content_type: str, url: str) -> tuple[str | None, str]:
    """(title, readable text): trafilatura's main-content extraction, falling back to
    all visible text for pages too small or odd for it to find an article."""
    import trafilatura  # 0.25 s of CPU to import: paid only by processes that fetch pages

    if content_type.startswith("text/plain"):
        return None, _decode(body, content_type).strip()
    title_match = _TITLE.search(body[:200_000])
    title = None
    if title_match:
        title = " ".join(unescape(_decode(title_match.group(1), content_type)).split()) or None
    html = _decode(body, content_type)
    text = trafilatura.extract(
        html, url=url, include_comments=False, include_tables=True, favor_recall=True
    )
    if not text:
        text = trafilatura.html2txt(html) or ""
    return title, text.strip()


@opens_session
async def fetch_page(
    url: str,
    *,
    session: ProviderSession | None = None,
    guard: UrlGuard | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_redirects: int = DEFAULT_MAX_REDIRECTS,
    timeout: float = DEFAULT_TIMEOUT,
    max_chars: int = DEFAULT_MAX_CHARS,
    use_cache: bool = True,
) -> ProviderResponse:
    """Fetch a website (a bare domain is taken as https) and extract its text.

    ``data`` is :meth:`Page.as_dict`. The guard (default: from the session's settings,
    ``LEAD_PIPELINE_ALLOW_PRIVATE_URLS``) is applied after DNS resolution and on
    every redirect: :class:`BlockedURL`. HTTP errors, loops, too many redirects
    and non-text content: :class:`FetchFailed`. 5xx and timeouts are retried
    (at most twice), then :class:`ProviderUnavailable`.
    """
    assert session is not None  # opens_session passes one
    guard = guard or UrlGuard.from_settings(session.settings)
    start = normalise_url(url)
    guard.check_url(start)
    policy = session.policy(FETCH)
    attempts = max(1, min(policy.retry.max_attempts, 3))

    async def download(_: Try) -> _Body:
        return await _download(
            session, guard, start, max_bytes=max_bytes, max_redirects=max_redirects, timeout=timeout
        )

    price = policy.prices.request_cost(FETCH)

    async def call(_tab: Tab) -> Paid:
        got = await retrying(
            download,
            policy.retry,
            retry_on=ProviderUnavailable,
            max_attempts=attempts,
            log=lambda error, delay: get_logger().info(
                "fetch: %s; retrying in %.2fs", error, delay
            ),
        )
        title, text = await asyncio.to_thread(
            extract_text, got.body, got.content_type, str(got.url)
        )
        page = Page(
            url=str(start),
            final_url=str(got.url),
            status=got.status,
            content_type=got.content_type,
            title=title,
            text=text[:max_chars],
            truncated=got.truncated,
            bytes_read=len(got.body),
            redirects=got.redirects,
            fetched_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        return Paid(page.as_dict(), price)

    request = {
        "url": str(start),
        "max_bytes": max_bytes,
        "max_chars": max_chars,
        "allow_private": guard.allow_private,
        "trusted_hosts": sorted(guard.trusted_hosts),
    }
    return await policy.run(request, call, price=price, use_cache=use_cache)
