"""Which URLs from lead data this process may connect to (the SSRF guard).

Lead data is untrusted: a "website" of ``http://169.254.169.254/`` would read the
cloud metadata service, ``http://10.0.0.5/admin`` an internal host. The guard
checks the scheme, resolves the host, refuses any non-public address and hands
back the checked IP so the fetcher connects to exactly that address: a second DNS
answer (rebinding) never gets a say.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass

import httpx

from lead_pipeline.providers.errors import BlockedURL, FetchFailed
from lead_pipeline.settings import Settings, env_name

ALLOW_PRIVATE_ENV = env_name("allow_private_urls")
TRUSTED_HOSTS_ENV = env_name("trusted_hosts")
ALLOWED_SCHEMES = ("http", "https")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# "scheme:" not followed by a digit ("acme.com:8080" is a host and port).
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:(?!\d)")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def blocked_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` is off limits, or None if it is an ordinary public address.

    IPv6 forms that embed an IPv4 address (mapped ``::ffff:a.b.c.d``, 6to4,
    Teredo, NAT64) are judged by the address they carry.
    """
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = [ip.ipv4_mapped, ip.sixtofour, *(ip.teredo or ())]
        if ip in _NAT64:
            embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        for inner in embedded:
            if inner is not None and (reason := blocked_reason(inner)):
                return f"{reason} (embedded in {ip})"
    for attribute, reason in (
        ("is_unspecified", "unspecified"),
        ("is_loopback", "loopback"),
        ("is_link_local", "link-local"),
        ("is_multicast", "multicast"),
        ("is_private", "private"),
        ("is_reserved", "reserved"),
    ):
        if getattr(ip, attribute):
            return reason
    if not ip.is_global:
        return "not globally routable"
    return None


def normalise_url(raw: str) -> httpx.URL:
    """A lead's website as an absolute URL: bare domains get ``https://``."""
    text = raw.strip()
    if not text:
        raise FetchFailed("empty URL")
    if text.startswith("//"):
        text = "https:" + text
    elif "://" not in text and not _SCHEME.match(text):
        text = "https://" + text
    try:
        url = httpx.URL(text)
    except (httpx.InvalidURL, ValueError) as exc:
        raise FetchFailed(f"invalid URL {text[:200]!r}: {exc}") from None
    return url.copy_with(fragment=None)


@dataclass(frozen=True)
class UrlGuard:
    """``allow_private`` lifts the address check (tests on 127.0.0.1, intranet use).
    ``trusted_hosts`` lifts it for listed ``host`` or ``host:port`` entries only."""

    allow_private: bool = False
    trusted_hosts: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, config: Settings) -> UrlGuard:
        """``LEAD_PIPELINE_ALLOW_PRIVATE_URLS`` and ``LEAD_PIPELINE_TRUSTED_HOSTS``
        (``host`` or ``host:port`` entries). Trusted hosts are narrower than allowing
        every private address: an intranet site the operator vouches for may be
        fetched, while a redirect from it into any other private address is still
        refused."""
        return cls(
            allow_private=config.allow_private_urls,
            trusted_hosts=frozenset(h.lower() for h in config.trusted_hosts),
        )

    def check_url(self, url: httpx.URL) -> None:
        """Refuse what no resolution can make acceptable: other schemes, userinfo."""
        if url.scheme not in ALLOWED_SCHEMES:
            raise BlockedURL(f"refused URL with scheme {url.scheme!r}: only http and https")
        if not url.host:
            raise BlockedURL("refused URL without a host")
        if url.userinfo:
            raise BlockedURL(f"refused URL with credentials for host {url.host!r}")

    def _trusted(self, url: httpx.URL) -> bool:
        port = default_port(url)
        return url.host in self.trusted_hosts or f"{url.host}:{port}" in self.trusted_hosts

    async def resolve(self, url: httpx.URL) -> list[str]:
        """The checked IPs to connect to for ``url``, in resolver order; :class:`BlockedURL`
        if off limits.

        Every address the name resolves to must pass: a name that answers with
        both a public and a private address is refused rather than gambled on.
        """
        self.check_url(url)
        host = url.host
        port = default_port(url)
        try:
            addresses = [ipaddress.ip_address(host)]
        except ValueError:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(
                    host, port, type=socket.SOCK_STREAM
                )
            except (socket.gaierror, UnicodeError) as exc:
                raise FetchFailed(f"cannot resolve host {host!r}: {exc}") from None
            addresses = []
            for info in infos:
                address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
                if address not in addresses:
                    addresses.append(address)
        if not addresses:
            raise FetchFailed(f"host {host!r} has no address")
        if not (self.allow_private or self._trusted(url)):
            for address in addresses:
                if reason := blocked_reason(address):
                    raise BlockedURL(
                        f"refused {url.scheme}://{host}:{port}: resolves to {reason} address "
                        f"{address}; set {ALLOW_PRIVATE_ENV}=1 to allow private addresses"
                    )
        return [str(a) for a in addresses]


def default_port(url: httpx.URL) -> int:
    """The port a request to ``url`` goes to."""
    return url.port or (443 if url.scheme == "https" else 80)


def host_header(url: httpx.URL) -> str:
    """``Host`` for ``url``: the name, and the port when it is not the scheme's default."""
    default = 443 if url.scheme == "https" else 80
    host = f"[{url.host}]" if ":" in url.host else url.host
    return host if url.port in (None, default) else f"{host}:{url.port}"


def pinned(url: httpx.URL, ip: str) -> tuple[httpx.URL, dict[str, str], dict[str, str]]:
    """``(url, headers, extensions)`` that send a request for ``url`` to the checked ``ip``.

    The URL's host is replaced by the IP and named again in ``Host`` and in TLS SNI
    (certificates are still verified against the name), so no second DNS lookup happens
    between the check and the connection.
    """
    extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
    return url.copy_with(host=ip), {"Host": host_header(url)}, extensions


@dataclass(frozen=True)
class HostList:
    """The hosts one caller may reach: ``api.example.com``, ``*.example.com`` (any name under
    it, not the bare domain), either with ``:port`` to allow that port only.

    Narrower than the address check: a workflow's ``http`` node whose URL a row can shape
    declares where it may go, so a row cannot send the node's secret headers elsewhere.
    """

    entries: frozenset[tuple[str, int | None]]

    @classmethod
    def of(cls, entries: Iterable[str]) -> HostList:
        """From ``allowed_hosts`` entries; ValueError names an entry that is not a host."""
        return cls(frozenset(_host_entry(entry) for entry in entries))

    @classmethod
    def exactly(cls, url: httpx.URL) -> HostList:
        """Only the host and port of ``url`` (a URL the workflow author wrote literally)."""
        return cls(frozenset({(url.host.lower().rstrip("."), default_port(url))}))

    def allows(self, url: httpx.URL) -> bool:
        host = url.host.lower().rstrip(".")
        port = default_port(url)
        for pattern, entry_port in self.entries:
            if entry_port is not None and entry_port != port:
                continue
            if pattern.startswith("*."):
                if host.endswith(pattern[1:]) and host != pattern[2:]:
                    return True
            elif host == pattern:
                return True
        return False

    def __str__(self) -> str:
        shown = (host if port is None else f"{host}:{port}" for host, port in self.entries)
        return ", ".join(sorted(shown)) or "none"

    def check(self, url: httpx.URL) -> None:
        """:class:`BlockedURL` unless ``url`` goes to one of the listed hosts."""
        if not self.allows(url):
            raise BlockedURL(
                f"refused {url.scheme}://{host_header(url)}: not a host this node may reach "
                f"({self})"
            )


_HOST_ENTRY = re.compile(
    r"^(?P<host>(?:\*\.)?[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?)(?::(?P<port>\d{1,5}))?$"
)


def _host_entry(entry: str) -> tuple[str, int | None]:
    text = str(entry).strip().lower().rstrip(".")
    match = _HOST_ENTRY.match(text)
    if not match or ".." in text or "*" in match.group("host")[1:]:
        raise ValueError(
            f"{entry!r} is not a host name: write api.example.com, *.example.com or "
            "host:port, without a scheme or a path"
        )
    port = match.group("port")
    return match.group("host"), int(port) if port else None
