"""The address guard against IANA's special-purpose registries, not the interpreter's tables.

Python 3.11 and 3.12 call 192.0.0.192 (Oracle Cloud's metadata service) global, and
3.11 also ``::169.254.169.254``, ``fec0::1`` and ``192.88.99.1``: a guard built on
``ipaddress.is_global`` let them through. Every verdict below is written out by hand
from the registries, so none of them can follow a change in the tables under test.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any

import httpx2
import pytest

from lead_pipeline.providers import BlockedURL
from lead_pipeline.providers.urlguard import UrlGuard, blocked_reason

CLOUD_METADATA = [
    ("169.254.169.254", "link-local"),  # AWS, GCP, Azure, Oracle, DigitalOcean, OpenStack
    ("169.254.170.2", "link-local"),  # AWS ECS task metadata
    ("169.254.169.123", "link-local"),  # AWS time sync
    ("169.254.0.23", "link-local"),  # Tencent Cloud
    ("100.100.100.200", "shared address space (carrier-grade NAT)"),  # Alibaba Cloud
    ("192.0.0.192", "IETF protocol assignments"),  # Oracle Cloud
    ("168.63.129.16", "Azure WireServer (platform metadata)"),  # a public-looking address
    ("fd00:ec2::254", "unique local"),  # AWS over IPv6
    ("fd20:ce::254", "unique local"),  # GCP over IPv6
    ("::ffff:169.254.169.254", "link-local (embedded in"),
    ("64:ff9b::a9fe:a9fe", "link-local (embedded in"),  # NAT64 of 169.254.169.254
    ("2002:a9fe:a9fe::1", "link-local (embedded in"),  # 6to4 of 169.254.169.254
    ("::169.254.169.254", "not global unicast"),  # IPv4-compatible, deprecated
]


@pytest.mark.parametrize(("address", "reason"), CLOUD_METADATA)
def test_every_known_cloud_metadata_address_is_refused(address: str, reason: str) -> None:
    found = blocked_reason(ipaddress.ip_address(address))
    assert found is not None and found.startswith(reason), found


# What the registries say, entry by entry: an address inside each block and the verdict.
REFUSED = [
    "0.1.2.3", "0.0.0.0", "10.255.0.1", "100.127.255.254", "127.0.0.2", "172.31.0.1",
    "192.0.0.1", "192.0.0.8", "192.0.0.170", "192.0.0.171", "192.0.0.255", "192.0.2.10",
    "192.88.99.1", "192.168.1.1", "198.19.0.1", "198.51.100.7", "203.0.113.200",
    "224.0.0.251", "239.255.255.250", "240.0.0.1", "255.255.255.255",
    # Globally reachable anycast inside 192.0.0.0/24: refused with its block (deny-more).
    "192.0.0.9", "192.0.0.10",
    "::", "::1", "::ffff:10.0.0.1", "64:ff9b:1::1", "100::1", "100:0:0:1::1",
    "2001::1", "2001:1::1", "2001:1::3", "2001:2::1", "2001:3::1", "2001:4:112::1",
    "2001:10::1", "2001:20::1", "2001:30::1", "2001:1ff::1", "2001:db8::1",
    "2002:c0a8:101::1", "3fff::1", "3fff:fff::1", "5f00::1", "fc00::1", "fdff::1",
    "fe80::1", "febf::1", "fec0::1", "ff02::1", "4000::1", "e000::1",
]  # fmt: skip
ALLOWED = [
    "1.1.1.1", "8.8.8.8", "100.63.255.255", "100.128.0.0", "172.32.0.1", "192.0.1.1",
    "192.31.196.1", "192.52.193.1", "192.175.48.1", "198.20.0.1", "223.255.255.254",
    "2606:4700:4700::1111", "2001:4860:4860::8888", "2001:200::1", "2620:4f:8000::1",
    "3ffe::1", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1",
]  # fmt: skip


@pytest.mark.parametrize("address", REFUSED)
def test_addresses_the_registries_call_not_global_are_refused(address: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ALLOWED)
def test_addresses_the_registries_call_global_pass(address: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) is None


def test_where_the_interpreter_tables_disagree_the_registry_decides() -> None:
    # On the interpreter running this suite, some of these are "global"; all are refused.
    disputed = ["192.0.0.192", "::169.254.169.254", "fec0::1", "192.88.99.1", "192.0.0.9"]
    for address in disputed:
        assert blocked_reason(ipaddress.ip_address(address)) is not None, address


class _DnsStandIn(asyncio.SelectorEventLoop):
    """An event loop whose resolver answers from a table: DNS as a cloud instance sees it."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        super().__init__()
        self.answers = answers
        self.asked: list[str] = []

    async def getaddrinfo(self, host: Any, port: Any, **_: Any) -> list[Any]:  # type: ignore[override]
        self.asked.append(host)
        return [
            (socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM, 6, "",
             (ip, port))
            for ip in self.answers[host]
        ]  # fmt: skip


ANSWERS = {
    "metadata.google.internal": ["169.254.169.254"],
    "metadata": ["169.254.169.254"],
    "instance-data.ec2.internal": ["169.254.169.254", "fd00:ec2::254"],
    "metadata.tencentyun.com": ["169.254.0.23"],
    "rebind.example": ["93.184.215.14", "192.0.0.192"],  # public and Oracle's metadata
    "acme.example": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
}


@pytest.mark.parametrize("host", [h for h in ANSWERS if h != "acme.example"])
def test_names_that_resolve_to_metadata_services_are_refused(host: str) -> None:
    loop = _DnsStandIn(ANSWERS)
    try:
        with pytest.raises(BlockedURL, match=f"refused http://{host}:80: resolves to "):
            loop.run_until_complete(UrlGuard().resolve(httpx2.URL(f"http://{host}/")))
    finally:
        loop.close()
    assert loop.asked == [host]


def test_a_public_name_resolves_to_its_checked_addresses() -> None:
    loop = _DnsStandIn(ANSWERS)
    try:
        found = loop.run_until_complete(UrlGuard().resolve(httpx2.URL("https://acme.example/")))
    finally:
        loop.close()
    assert found == ANSWERS["acme.example"]


def test_the_guard_reads_no_ipaddress_flag() -> None:
    # The verdicts come from the tables: an address class whose flags say "global"
    # everywhere is still refused when a registry entry holds it.
    class Global(ipaddress.IPv4Address):
        is_global = True  # type: ignore[assignment]
        is_private = False  # type: ignore[assignment]
        is_reserved = False  # type: ignore[assignment]
        is_link_local = False  # type: ignore[assignment]

    assert blocked_reason(Global("169.254.169.254")) == "link-local"
    assert blocked_reason(Global("192.0.0.192")) == "IETF protocol assignments"
