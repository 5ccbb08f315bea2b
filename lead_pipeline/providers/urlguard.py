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
from typing import Any

import httpx2

from lead_pipeline.providers.errors import BlockedURL, FetchFailed
from lead_pipeline.settings import Settings, env_name

ALLOW_PRIVATE_ENV = env_name("allow_private_urls")
TRUSTED_HOSTS_ENV = env_name("trusted_hosts")
ALLOWED_SCHEMES = ("http", "https")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# "scheme:" not followed by a digit ("acme.com:8080" is a host and port).
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:(?!\d)")

# Which addresses are public is decided from IANA's registries, transcribed here, never
# from the interpreter's ``ipaddress`` tables: those change between Python versions
# (3.11 and 3.12 call 192.0.0.192, Oracle Cloud's metadata service, global; 3.13 does not).
#
# * IANA IPv4 Special-Purpose Address Registry, version last updated 2020-09-04, and the
#   IANA IPv4 Address Space Registry (224.0.0.0/4 multicast, 240.0.0.0/4 reserved).
# * IANA IPv6 Special-Purpose Address Registry, version last updated 2024-10-22, plus
#   100:0:0:1::/64 (RFC 9780, registered after it), and the IANA IPv6 Address Space
#   Registry: only 2000::/3 is global unicast.
#
# Each entry: (block, name, globally reachable) with the registry's "Globally Reachable"
# column; None stands for its "N/A". An address is refused when any entry holding it is
# not globally reachable (True), named by the narrowest such entry. That refuses a little
# more than the registry would: the anycast blocks inside 192.0.0.0/24 and 2001::/23 (PCP,
# TURN, AMT, AS112, ORCHIDv2) are refused with their block, as no company site lives there.
SpecialBlock = tuple[str, str, bool | None]
IPV4_SPECIAL: tuple[SpecialBlock, ...] = (
    ("0.0.0.0/8", "this network", False),
    ("0.0.0.0/32", "unspecified", False),
    ("10.0.0.0/8", "private", False),
    ("100.64.0.0/10", "shared address space (carrier-grade NAT)", False),
    ("127.0.0.0/8", "loopback", False),
    ("169.254.0.0/16", "link-local", False),
    ("172.16.0.0/12", "private", False),
    ("192.0.0.0/24", "IETF protocol assignments", False),
    ("192.0.0.0/29", "IPv4 service continuity prefix", False),
    ("192.0.0.8/32", "IPv4 dummy address", False),
    ("192.0.0.9/32", "Port Control Protocol anycast", True),
    ("192.0.0.10/32", "TURN anycast", True),
    ("192.0.0.170/32", "NAT64/DNS64 discovery", False),
    ("192.0.0.171/32", "NAT64/DNS64 discovery", False),
    ("192.0.2.0/24", "documentation (TEST-NET-1)", False),
    ("192.31.196.0/24", "AS112-v4", True),
    ("192.52.193.0/24", "AMT", True),
    ("192.88.99.0/24", "deprecated 6to4 relay anycast", None),
    ("192.168.0.0/16", "private", False),
    ("192.175.48.0/24", "direct delegation AS112 service", True),
    ("198.18.0.0/15", "benchmarking", False),
    ("198.51.100.0/24", "documentation (TEST-NET-2)", False),
    ("203.0.113.0/24", "documentation (TEST-NET-3)", False),
    ("224.0.0.0/4", "multicast", False),  # the IPv4 Address Space Registry
    ("240.0.0.0/4", "reserved", False),
    ("255.255.255.255/32", "limited broadcast", False),
)
IPV6_SPECIAL: tuple[SpecialBlock, ...] = (
    ("::1/128", "loopback", False),
    ("::/128", "unspecified", False),
    ("::ffff:0:0/96", "IPv4-mapped", False),  # judged by the IPv4 address it carries
    ("64:ff9b::/96", "IPv4/IPv6 translation (NAT64)", True),  # likewise
    ("64:ff9b:1::/48", "local-use IPv4/IPv6 translation", False),
    ("100::/64", "discard-only", False),
    ("100:0:0:1::/64", "dummy IPv6 prefix", False),
    ("2001::/23", "IETF protocol assignments", False),
    ("2001::/32", "Teredo", None),
    ("2001:1::1/128", "Port Control Protocol anycast", True),
    ("2001:1::2/128", "TURN anycast", True),
    ("2001:1::3/128", "DNS-SD service registration protocol anycast", True),
    ("2001:2::/48", "benchmarking", False),
    ("2001:3::/32", "AMT", True),
    ("2001:4:112::/48", "AS112-v6", True),
    ("2001:10::/28", "deprecated ORCHID", None),
    ("2001:20::/28", "ORCHIDv2", True),
    ("2001:30::/28", "drone remote ID entity tags", True),
    ("2001:db8::/32", "documentation", False),
    ("2002::/16", "6to4", None),  # judged by the IPv4 address it carries
    ("2620:4f:8000::/48", "direct delegation AS112 service", True),
    ("3fff::/20", "documentation", False),
    ("5f00::/16", "segment routing (SRv6) SIDs", False),
    ("fc00::/7", "unique local", False),
    ("fe80::/10", "link-local", False),
)
# Cloud platform endpoints at addresses the registries call public. Every other known
# metadata service sits in a block refused above: 169.254.169.254 (AWS, GCP, Azure,
# Oracle, DigitalOcean, OpenStack), 100.100.100.200 (Alibaba), 192.0.0.192 (Oracle),
# fd00:ec2::254 (AWS over IPv6), fd20:ce::254 (GCP over IPv6).
CLOUD_ENDPOINTS: dict[str, str] = {
    "168.63.129.16": "Azure WireServer (platform metadata)",
}
_GLOBAL_UNICAST_V6 = ipaddress.ip_network("2000::/3")
_MULTICAST_V6 = ipaddress.ip_network("ff00::/8")
_MAPPED = ipaddress.ip_network("::ffff:0:0/96")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SIX_TO_FOUR = ipaddress.ip_network("2002::/16")


def _table(entries: tuple[SpecialBlock, ...]) -> list[tuple[Any, str, bool | None]]:
    """Entries as networks, narrowest first, so the first match names an address best."""
    parsed = [(ipaddress.ip_network(block), name, reach) for block, name, reach in entries]
    return sorted(parsed, key=lambda entry: -entry[0].prefixlen)


_V4_TABLE = _table(IPV4_SPECIAL)
_V6_TABLE = _table(IPV6_SPECIAL)


def _special(ip: IPAddress) -> str | None:
    """The narrowest registry entry holding ``ip`` that is not globally reachable."""
    table = _V4_TABLE if isinstance(ip, ipaddress.IPv4Address) else _V6_TABLE
    for network, name, reach in table:
        if ip in network and reach is not True:
            return name
    return None


def blocked_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` is off limits, or None if it is an ordinary public address.

    IPv6 forms that carry an IPv4 address (mapped ``::ffff:a.b.c.d``, NAT64
    ``64:ff9b::/96``, 6to4 ``2002::/16``) are judged by the address they carry:
    a NAT64 network reaches every IPv4-only site that way.
    """
    if isinstance(ip, ipaddress.IPv6Address):
        inner: ipaddress.IPv4Address | None = None
        if ip in _MAPPED or ip in _NAT64:
            inner = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        elif ip in _SIX_TO_FOUR:
            inner = ip.sixtofour
        if inner is not None:
            reason = blocked_reason(inner)
            return f"{reason} (embedded in {ip})" if reason else None
        if (reason := _special(ip)) is not None:
            return reason
        if ip in _MULTICAST_V6:
            return "multicast"
        if ip not in _GLOBAL_UNICAST_V6:
            return "not global unicast (reserved by IANA)"
        return None
    if (endpoint := CLOUD_ENDPOINTS.get(str(ip))) is not None:
        return endpoint
    return _special(ip)


def normalise_url(raw: str) -> httpx2.URL:
    """A lead's website as an absolute URL: bare domains get ``https://``."""
    text = raw.strip()
    if not text:
        raise FetchFailed("empty URL")
    if text.startswith("//"):
        text = "https:" + text
    elif "://" not in text and not _SCHEME.match(text):
        text = "https://" + text
    try:
        url = httpx2.URL(text)
    except (httpx2.InvalidURL, ValueError) as exc:
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

    def check_url(self, url: httpx2.URL) -> None:
        """Refuse what no resolution can make acceptable: other schemes, userinfo."""
        if url.scheme not in ALLOWED_SCHEMES:
            raise BlockedURL(f"refused URL with scheme {url.scheme!r}: only http and https")
        if not url.host:
            raise BlockedURL("refused URL without a host")
        if url.userinfo:
            raise BlockedURL(f"refused URL with credentials for host {url.host!r}")

    def _trusted(self, url: httpx2.URL) -> bool:
        port = default_port(url)
        return url.host in self.trusted_hosts or f"{url.host}:{port}" in self.trusted_hosts

    async def resolve(self, url: httpx2.URL) -> list[str]:
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


def default_port(url: httpx2.URL) -> int:
    """The port a request to ``url`` goes to."""
    return url.port or (443 if url.scheme == "https" else 80)


def host_header(url: httpx2.URL) -> str:
    """``Host`` for ``url``: the name, and the port when it is not the scheme's default."""
    default = 443 if url.scheme == "https" else 80
    host = f"[{url.host}]" if ":" in url.host else url.host
    return host if url.port in (None, default) else f"{host}:{url.port}"


def pinned(url: httpx2.URL, ip: str) -> tuple[httpx2.URL, dict[str, str], dict[str, str]]:
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
    def exactly(cls, url: httpx2.URL) -> HostList:
        """Only the host and port of ``url`` (a URL the workflow author wrote literally)."""
        return cls(frozenset({(url.host.lower().rstrip("."), default_port(url))}))

    def allows(self, url: httpx2.URL) -> bool:
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

    def check(self, url: httpx2.URL) -> None:
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
