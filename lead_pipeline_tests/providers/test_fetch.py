"""The page fetcher: readable text on the happy path, and the SSRF guard on every hop."""

from __future__ import annotations

import ipaddress
import time

import pytest

from lead_pipeline.providers import (
    BlockedURL,
    FetchFailed,
    MemoryCache,
    ProviderSession,
    ProviderUnavailable,
    UrlGuard,
    blocked_reason,
    fetch_page,
)
from lead_pipeline.providers.urlguard import normalise_url
from lead_pipeline_tests.providers.conftest import FAST_RETRY
from lead_pipeline_tests.servers import (
    TLS_CERT_FILE,
    Reply,
    WebServer,
    html_page,
    huge_page,
    redirect,
)

ABOUT = (
    "Acme builds industrial anvils for construction companies and sells them through "
    "annual contracts to procurement teams across Europe and North America."
)


@pytest.fixture
def allow_private(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEAD_PIPELINE_ALLOW_PRIVATE_URLS", "1")


async def test_happy_path_extracts_title_and_text(
    web_server: WebServer, session: ProviderSession, allow_private: None
) -> None:
    web_server.route("/", html_page("Acme Anvils", ABOUT, "Founded in 2020 by Ada Lovelace."))
    response = await fetch_page(web_server.url("/"), session=session)
    page = response.data
    assert page["title"] == "Acme Anvils"
    assert ABOUT in page["text"] and "Ada Lovelace" in page["text"]
    assert page["status"] == 200 and page["truncated"] is False
    assert response.provider == "fetch" and response.cost == 0


async def test_redirects_are_followed_and_host_header_kept(
    web_server: WebServer, session: ProviderSession, allow_private: None
) -> None:
    web_server.route("/old", redirect("/new", status=301))
    web_server.route("/new", redirect(f"http://localhost:{web_server.port}/home"))
    web_server.route("/home", html_page("Home", ABOUT))
    response = await fetch_page(web_server.url("/old"), session=session)
    assert response.data["final_url"] == f"http://localhost:{web_server.port}/home"
    assert response.data["redirects"] == [
        web_server.url("/new"),
        f"http://localhost:{web_server.port}/home",
    ]
    last = web_server.requests[-1]
    assert last.path == "/home"
    assert last.headers["host"] == f"localhost:{web_server.port}"  # name kept, IP connected


async def test_https_connects_to_the_checked_ip_and_verifies_the_name(
    allow_private: None,
) -> None:
    # The fetcher dials the IP it checked; TLS must still present and verify "localhost".
    with WebServer({"/": html_page("Secure Acme", ABOUT)}, tls=True) as secure:
        async with ProviderSession(verify=TLS_CERT_FILE) as s:
            response = await fetch_page(secure.url("/"), session=s)
        assert response.data["title"] == "Secure Acme"
        assert secure.requests[0].headers["host"] == f"localhost:{secure.port}"
        # A name the certificate does not cover is refused, though the IP is the same.
        async with ProviderSession(verify=TLS_CERT_FILE, retry=FAST_RETRY) as s:
            with pytest.raises(ProviderUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
                await fetch_page(f"https://127.0.0.1:{secure.port}/", session=s)


async def test_cached_page_is_not_fetched_again(web_server: WebServer, allow_private: None) -> None:
    web_server.route("/", html_page("Acme", ABOUT))
    async with ProviderSession(cache=MemoryCache()) as s:
        await fetch_page(web_server.url("/"), session=s)
        again = await fetch_page(web_server.url("/"), session=s)
    assert again.cached and web_server.count() == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://localhost/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://192.168.1.1/admin",
        "http://172.16.5.4/",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:a9fe:a9fe]/",  # 169.254.169.254, IPv4-mapped
        "http://[fe80::1]/",
        "http://[fd00::1]/",
        "http://2130706433/",  # 127.0.0.1 as one number
        "http://0x7f.0.0.1/",
        "127.0.0.1:8080",  # a bare host:port from lead data
    ],
)
async def test_private_addresses_are_refused(url: str, session: ProviderSession) -> None:
    with pytest.raises(BlockedURL) as caught:
        await fetch_page(url, session=session)
    assert "LEAD_PIPELINE_ALLOW_PRIVATE_URLS" in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.com/x",
        "gopher://127.0.0.1:70/",
        "javascript:alert(1)",
        "data:text/html,<p>hi</p>",
        "http://user:pass@example.com/",
    ],
)
async def test_other_schemes_and_credentials_are_refused(
    url: str, session: ProviderSession, allow_private: None
) -> None:
    with pytest.raises(BlockedURL):
        await fetch_page(url, session=session)


async def test_loopback_refused_by_default_and_server_never_reached(
    web_server: WebServer, session: ProviderSession
) -> None:
    web_server.route("/", html_page("Acme", ABOUT))
    with pytest.raises(BlockedURL, match="loopback"):
        await fetch_page(web_server.url("/"), session=session)
    assert web_server.count() == 0


@pytest.mark.parametrize(
    "location",
    [
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost:{other}/",
        "http://127.0.0.1:{other}/",
        "http://[::ffff:127.0.0.1]:{other}/",
        "file:///etc/passwd",
    ],
)
async def test_redirect_into_private_range_is_refused(
    location: str, web_server: WebServer, session: ProviderSession
) -> None:
    # Only the first server is trusted, standing in for a public site; the redirect
    # must be checked on its own and refused before anything reaches the target.
    with WebServer({"/": html_page("internal", "secret")}) as internal:
        web_server.route("/", redirect(location.format(other=internal.port)))
        guard = UrlGuard(trusted_hosts=frozenset({f"127.0.0.1:{web_server.port}"}))
        with pytest.raises(BlockedURL):
            await fetch_page(web_server.url("/"), session=session, guard=guard)
        assert internal.count() == 0
    assert web_server.count() == 1


async def test_redirect_loop_is_detected(
    web_server: WebServer, session: ProviderSession, allow_private: None
) -> None:
    web_server.route("/a", redirect("/b"))
    web_server.route("/b", redirect("/a"))
    with pytest.raises(FetchFailed, match="redirect loop"):
        await fetch_page(web_server.url("/a"), session=session)
    assert web_server.count() == 2


async def test_redirect_cap(
    web_server: WebServer, session: ProviderSession, allow_private: None
) -> None:
    for i in range(10):
        web_server.route(f"/r{i}", redirect(f"/r{i + 1}"))
    with pytest.raises(FetchFailed, match="too many redirects"):
        await fetch_page(web_server.url("/r0"), session=session, max_redirects=3)
    assert web_server.count() == 4


async def test_huge_page_is_cut_at_the_size_cap(
    web_server: WebServer, session: ProviderSession, allow_private: None
) -> None:
    web_server.route("/", huge_page(100_000_000))
    response = await fetch_page(web_server.url("/"), session=session, max_bytes=200_000)
    assert response.data["truncated"] is True
    assert response.data["bytes_read"] == 200_000
    assert "lorem ipsum" in response.data["text"]
    deadline = time.monotonic() + 10
    while web_server.aborted == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert web_server.aborted == 1 and web_server.completed == 0  # we hung up early


async def test_page_below_the_cap_is_not_marked_truncated(
    web_server: WebServer, session: ProviderSession, allow_private: None
) -> None:
    web_server.route("/", huge_page(150_000))
    response = await fetch_page(web_server.url("/"), session=session, max_bytes=150_000)
    assert response.data["truncated"] is False and response.data["bytes_read"] == 150_000


async def test_slow_page_times_out_after_bounded_retries(
    web_server: WebServer, allow_private: None
) -> None:
    web_server.route("/", html_page("Acme", ABOUT))
    web_server.latency = 1.0
    async with ProviderSession(retry=FAST_RETRY) as s:
        with pytest.raises(ProviderUnavailable, match="timed out"):
            await fetch_page(web_server.url("/"), session=s, timeout=0.2)
    assert web_server.count() == FAST_RETRY.max_attempts


async def test_http_errors_and_non_pages_fail_clearly(
    web_server: WebServer, session: ProviderSession, allow_private: None
) -> None:
    web_server.route("/doc.pdf", Reply(body=b"%PDF-1.7", content_type="application/pdf"))
    with pytest.raises(FetchFailed, match="not a web page"):
        await fetch_page(web_server.url("/doc.pdf"), session=session)
    with pytest.raises(FetchFailed, match="HTTP 404") as caught:
        await fetch_page(web_server.url("/missing"), session=session)
    assert caught.value.status == 404
    assert web_server.count() == 2  # a 404 is not retried


def test_lead_data_urls_are_normalised() -> None:
    assert str(normalise_url(" acme.com ")) == "https://acme.com"
    assert str(normalise_url("//acme.com/x")) == "https://acme.com/x"
    assert str(normalise_url("localhost:8080/x")) == "https://localhost:8080/x"
    assert str(normalise_url("http://Acme.COM/a#frag")) == "http://acme.com/a"
    assert normalise_url("javascript:alert(1)").scheme == "javascript"
    with pytest.raises(FetchFailed):
        normalise_url("   ")


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("169.254.169.254", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "shared address space (carrier-grade NAT)"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("fc00::1", "unique local"),
        ("ff02::1", "multicast"),
        ("::", "unspecified"),
        ("::ffff:127.0.0.1", "loopback (embedded in"),
        ("::ffff:169.254.169.254", "link-local (embedded in"),
        ("64:ff9b::a00:1", "private (embedded in"),  # NAT64 of 10.0.0.1
        ("2002:7f00:1::", "loopback (embedded in"),  # 6to4 of 127.0.0.1
    ],
)
def test_blocked_reasons(address: str, reason: str | None) -> None:
    found = blocked_reason(ipaddress.ip_address(address))
    assert found is not None
    if reason is not None:
        assert found.startswith(reason)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) is None
