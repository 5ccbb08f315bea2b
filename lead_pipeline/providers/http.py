"""The shared HTTP client and the one request function every API provider goes through.

Status handling lives here so each provider module only builds requests and reads
answers: 401/403 fail at once, 429 waits as told, 5xx and timeouts back off, and
every message is scrubbed of the key before it becomes an exception.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2

from lead_pipeline.providers.answer import (
    ACCEPT_ENCODING,
    ERROR_BODY_LIMIT,
    answer_limit,
    body_excerpt,
    parse_json,
    read_body,
    text_excerpt,
)
from lead_pipeline.providers.calls import note_attempt, note_status
from lead_pipeline.providers.errors import (
    AuthError,
    BlockedURL,
    InvalidAnswer,
    ProviderError,
    ProviderUnavailable,
    QuotaExhausted,
    RateLimited,
)
from lead_pipeline.providers.policy import CallPolicy
from lead_pipeline.providers.redact import get_logger
from lead_pipeline.providers.retry import Try, quota_exhausted_wait, retrying, server_wait
from lead_pipeline.providers.urlguard import ALLOWED_SCHEMES, HostList, UrlGuard, pinned
from lead_pipeline.settings import get_settings

USER_AGENT = "lead-pipeline/0.1 (+https://github.com/lead-pipeline/lead-pipeline)"

RETRYABLE_STATUS = {408, 409, 425, 500, 502, 503, 504, 520, 522, 524, 529}
REDIRECT_STATUS = {301, 302, 303, 307, 308}
# Errors in the request itself (a scheme httpx2 cannot speak, a header with a line break):
# the same request fails the same way every time, so it is never retried.
_PERMANENT_TRANSPORT = (httpx2.UnsupportedProtocol, httpx2.LocalProtocolError)


@dataclass(frozen=True)
class Timeouts:
    """``total`` bounds one attempt end to end, so a server trickling bytes cannot
    hold a worker past it even though each read arrives within ``read``."""

    total: float = 60.0
    connect: float = 10.0
    read: float = 30.0


def tls_context(verify: ssl.SSLContext | str | bool = True) -> ssl.SSLContext | bool:
    """What ``verify`` means for a client: ``True`` is httpx2's default context (the
    system's CA certificates, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when set), a string
    is a CA bundle file or directory (a corporate CA, a test's own), a context is used
    as given and ``False`` verifies nothing. Building a context loads the CA bundle
    (tens of milliseconds): a caller making several clients builds it once."""
    if verify is True:
        return httpx2.create_ssl_context()
    if isinstance(verify, str):
        if Path(verify).is_dir():
            return ssl.create_default_context(capath=verify)
        return ssl.create_default_context(cafile=verify)
    return verify


def make_client(
    timeouts: Timeouts | None = None,
    *,
    max_connections: int = 64,
    keepalive: bool = True,
    trust_env: bool = True,
    verify: ssl.SSLContext | str | bool = True,
) -> httpx2.AsyncClient:
    """An ``httpx2.AsyncClient`` with our timeouts, pool limits and User-Agent.

    Redirects are never followed automatically: API answers should not redirect,
    and the page fetcher must check every hop itself. ``verify`` takes a CA bundle
    path or an ``ssl.SSLContext`` for a corporate CA (or a test's own).
    """
    t = timeouts or Timeouts()
    return httpx2.AsyncClient(
        timeout=httpx2.Timeout(t.read, connect=t.connect),
        limits=httpx2.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_connections if keepalive else 0,
        ),
        # Only encodings providers.answer inflates in bounded pieces.
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": ACCEPT_ENCODING},
        follow_redirects=False,
        trust_env=trust_env,
        verify=tls_context(verify),
    )


def error_detail(body: bytes, limit: int = 300, secrets: Iterable[object | None] = ()) -> str:
    """The provider's own error message, short, from the usual JSON error shapes.

    Only the excerpt kept is scrubbed of ``secrets`` (and every known key), never the
    whole body: see :func:`answer.text_excerpt`.
    """
    try:
        payload = json.loads(body)
    except ValueError:
        return body_excerpt(body, limit, secrets).strip()
    candidates: list[Any] = []
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict):
            candidates.append(error.get("message"))
        candidates += [error, payload.get("message"), payload.get("detail")]
    for c in candidates:
        if isinstance(c, str) and c.strip():
            return text_excerpt(c.strip(), limit, secrets)
    return body_excerpt(body, limit, secrets).strip()


@dataclass(frozen=True)
class HttpAnswer:
    data: Any
    headers: httpx2.Headers
    status: int


async def request_json(
    client: httpx2.AsyncClient,
    policy: CallPolicy,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    json_body: Any = None,
    params: Mapping[str, Any] | None = None,
    secret: object | None = None,
    key_env: str | None = None,
    timeouts: Timeouts | None = None,
    answer_statuses: Collection[int] = (),
    throttle_statuses: Collection[int] = (429,),
    quota_statuses: Collection[int] = (),
    guard: UrlGuard | None = None,
    hosts: HostList | None = None,
    max_bytes: int | None = None,
) -> HttpAnswer:
    """Send one API request under ``policy`` (pace, in-flight cap, retries) and parse JSON.

    ``secret`` is the key sent in ``headers`` (or a list of them, for several secret
    headers); each is scrubbed from every message.
    ``key_env`` names its variable, so an :class:`AuthError` tells the operator
    what to fix. An unparseable 2xx body raises :class:`InvalidAnswer` unretried:
    whether to ask again is the provider module's decision.

    Providers that use other codes say so: ``answer_statuses`` are answers, not
    errors (People Data Labs' 404 "no match"; ``data`` is None when the body is
    not JSON); ``throttle_statuses`` mean "slow down" (Hunter's 403);
    ``quota_statuses`` mean the plan's credits are spent (Hunter's 429), which
    no retry can fix, so :class:`QuotaExhausted` is raised at once.

    With ``guard`` (URLs a lead row helped build), the URL must go to one of ``hosts``, its
    scheme and host pass the guard and every address the name resolves to is checked, all
    before anything is sent; the request then goes to a checked address, never to a second
    DNS answer. A refusal is :class:`BlockedURL` and is not retried. Redirects are never
    followed: an API that answers 3xx fails the call, naming where it pointed.

    The body is read by :func:`answer.read_body` inside the attempt's ``total`` deadline:
    past ``max_bytes`` after decompression (default: the provider's cap from
    ``LEAD_PIPELINE_ANSWER_LIMITS`` or its kind's, :func:`answer.answer_limit`) the
    answer is refused with :class:`AnswerTooLarge`, unretried. Only an excerpt of an
    error body is read and scrubbed. JSON is parsed strictly: ``NaN``, ``Infinity`` and
    numbers past a float are not JSON.
    """
    provider = policy.provider
    retry = policy.retry
    secrets = list(secret) if isinstance(secret, list | tuple) else [secret]
    total = (timeouts or Timeouts()).total
    if max_bytes is None:  # a caller without a session: the environment's caps
        max_bytes = answer_limit(provider, get_settings().answer_limits)
    limit = max_bytes
    try:
        target = httpx2.URL(url)
    except (httpx2.InvalidURL, ValueError) as exc:
        raise BlockedURL(
            f"{provider}: refused invalid URL: {exc}", provider=provider, secrets=secrets
        ) from None
    where = f"{method} {target.path}"
    if target.scheme not in ALLOWED_SCHEMES:
        raise BlockedURL(
            f"{provider}: refused URL with scheme {target.scheme!r}: only http and https",
            provider=provider,
            secrets=secrets,
        )
    addresses: list[str | None] = [None]
    if guard is not None:
        try:
            guard.check_url(target)
            if hosts is not None:
                hosts.check(target)
            addresses = list(await guard.resolve(target))
        except ProviderError as exc:
            raise type(exc)(f"{provider}: {exc}", provider=provider, secrets=secrets) from None
    log = get_logger()

    async def once(attempt: Try) -> HttpAnswer:
        """One request; a failure worth another try raises with the wait it was asked for."""
        try:
            async with policy.limiter.slot(), asyncio.timeout(total):
                note_attempt(where)
                response = await _send(
                    client, method, target, addresses, headers, json_body, params
                )
                try:
                    status = response.status_code
                    note_status(status)
                    if 200 <= status < 300 or status in answer_statuses:
                        body, _ = await read_body(response, provider=provider, limit=limit)
                    elif status in REDIRECT_STATUS:
                        body = b""
                    else:  # an error: read only what its excerpt can show
                        body, _ = await read_body(
                            response, provider=provider, limit=ERROR_BODY_LIMIT, cut=True
                        )
                finally:
                    await response.aclose()
        except _PERMANENT_TRANSPORT as exc:
            raise ProviderError(
                f"{provider}: {where} cannot be sent: {type(exc).__name__}: {exc}",
                provider=provider,
                secrets=secrets,
            ) from None
        except (httpx2.TimeoutException, TimeoutError):
            # TimeoutError is the total deadline, which covers reading the body too.
            raise ProviderUnavailable(
                f"{provider}: {where} timed out (attempt {attempt.number} of {attempt.of})",
                provider=provider,
                secrets=secrets,
            ) from None
        except httpx2.TransportError as exc:
            raise ProviderUnavailable(
                f"{provider}: {where} failed: {type(exc).__name__}: {exc} "
                f"(attempt {attempt.number} of {attempt.of})",
                provider=provider,
                secrets=secrets,
            ) from None
        detail = error_detail(body, secrets=secrets) if status >= 400 else ""
        if 200 <= status < 300:
            if (pause := quota_exhausted_wait(response.headers)) is not None:
                policy.limiter.pause(min(pause, retry.max_total_wait))
            try:
                data = parse_json(body)
            except ValueError as exc:
                why = "truncated?" if isinstance(exc, json.JSONDecodeError) else str(exc)
                raise InvalidAnswer(
                    f"{provider}: {where} answered HTTP {status} with a body that is not "
                    f"JSON ({why}): {body_excerpt(body, 200, secrets)!r}",
                    provider=provider,
                    status=status,
                    secrets=secrets,
                ) from None
            return HttpAnswer(data, response.headers, status)
        if status in answer_statuses:
            try:
                data = parse_json(body)
            except ValueError:
                data = None
            return HttpAnswer(data, response.headers, status)
        if status in quota_statuses:
            raise QuotaExhausted(
                f"{provider}: {where} answered HTTP {status}: the account's usage limit "
                f"is reached: {detail}",
                provider=provider,
                status=status,
                secrets=secrets,
            )
        if status in (401, 403) and status not in throttle_statuses:
            hint = f"; check {key_env}" if key_env else ""
            raise AuthError(
                f"{provider}: {where} refused the credentials (HTTP {status}){hint}: {detail}",
                provider=provider,
                status=status,
                secrets=secrets,
            )
        if status in throttle_statuses:
            delay = server_wait(response.headers)
            if delay is not None and attempt.waited + delay > retry.max_total_wait:
                # Raised as retryable, but the wait is past the budget: no further try.
                raise RateLimited(
                    f"{provider}: {where} rate limited (HTTP {status}) and asked to wait "
                    f"{delay:.1f}s, more than the {retry.max_total_wait:.0f}s allowed: "
                    f"{detail}",
                    provider=provider,
                    status=status,
                    retry_after=delay,
                    secrets=secrets,
                )
            if delay is not None:
                # Every caller sharing this limiter waits too, not only this one.
                policy.limiter.pause(delay)
            raise RateLimited(
                f"{provider}: {where} still rate limited (HTTP {status}) after "
                f"{attempt.number} attempts: {detail}",
                provider=provider,
                status=status,
                retry_after=delay,
                secrets=secrets,
            )
        if status in RETRYABLE_STATUS:
            raise ProviderUnavailable(
                f"{provider}: {where} answered HTTP {status} "
                f"(attempt {attempt.number} of {attempt.of}): {detail}",
                provider=provider,
                status=status,
                retry_after=server_wait(response.headers),
                secrets=secrets,
            )
        if status in REDIRECT_STATUS:
            location = response.headers.get("location", "")
            shown = text_excerpt(location, 200, secrets)
            detail = f"redirects to {shown!r}, and API calls follow no redirect"
        raise ProviderError(
            f"{provider}: {where} answered HTTP {status}: {detail}",
            provider=provider,
            status=status,
            secrets=secrets,
        )

    return await retrying(
        once,
        retry,
        retry_on=(RateLimited, ProviderUnavailable),
        log=lambda error, delay: log.info("%s; retrying in %.2fs", error, delay),
    )


async def _send(
    client: httpx2.AsyncClient,
    method: str,
    target: httpx2.URL,
    addresses: list[str | None],
    headers: Mapping[str, str] | None,
    json_body: Any,
    params: Mapping[str, Any] | None,
) -> httpx2.Response:
    """One request, to each checked address in turn until one accepts the connection;
    ``[None]`` means no address was checked and the client resolves the name itself.
    The answer is streamed: the caller reads it with :func:`answer.read_body` and closes it."""
    for index, ip in enumerate(addresses):
        url, extra, extensions = (target, {}, {}) if ip is None else pinned(target, ip)
        request = client.build_request(
            method,
            url,
            headers={**(headers or {}), **extra},
            json=json_body,
            params=params,
            extensions=extensions,
        )
        try:
            return await client.send(request, stream=True)
        except httpx2.ConnectError:
            if index == len(addresses) - 1:
                raise
    raise AssertionError("there is always at least one address")
