"""The one domain module: hosts, registrable domains on the Public Suffix List, shared hosts."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from lead_pipeline import domains
from lead_pipeline.classify.features import website_tld
from lead_pipeline.founders.identity import company_matches
from lead_pipeline.leads.ids import normalise_domain as id_key
from lead_pipeline.workflows.expressions import compile_expression
from lead_pipeline.workflows.templates import compile_template


@pytest.mark.parametrize(
    ("host", "site"),
    [
        ("acme.com", "acme.com"),
        ("app.acme.com", "acme.com"),
        ("shop.acme.co.uk", "acme.co.uk"),
        ("acme.com.au", "acme.com.au"),
        ("acme.github.io", "acme.github.io"),
        ("docs.acme.github.io", "acme.github.io"),
        ("acme.vercel.app", "acme.vercel.app"),
        ("a.b.herokuapp.com", "b.herokuapp.com"),
        ("acme.blogspot.com", "acme.blogspot.com"),
        ("vercel.app", "vercel.app"),
        ("pilot.com.evil.io", "evil.io"),
        ("ACME.COM.", "acme.com"),
        ("acme.internal", "acme.internal"),
        ("127.0.0.1", "127.0.0.1"),
    ],
)
def test_registrable_domain_follows_the_public_suffix_list(host: str, site: str) -> None:
    assert domains.registrable_domain(host) == site


def test_tenants_of_a_shared_host_are_different_sites() -> None:
    for shared in ("vercel.app", "github.io", "herokuapp.com", "netlify.app", "pages.dev"):
        one, other = f"acme.{shared}", f"other.{shared}"
        assert domains.registrable_domain(one) != domains.registrable_domain(other), shared


@pytest.mark.parametrize(
    ("value", "host", "name"),
    [
        ("https://WWW.Acme.com:8080/about?x=1#top", "acme.com", "acme.com"),
        ("bob@Acme.io", "acme.io", "acme.io"),
        ("//shop.acme.co.uk/", "shop.acme.co.uk", "shop.acme.co.uk"),
        ("https://bücher.de", "bücher.de", "bücher.de"),
        ("localhost", "localhost", None),
        ("http://127.0.0.1:8000", "127.0.0.1", None),
        ("http://[::1]/", "::1", None),
        ("10.0.0.10", "10.0.0.10", None),
        ("not a url", None, None),
        ("http://[::1", None, None),
        ("https://", None, None),
        ("", None, None),
        (None, None, None),
        (5, None, None),
        ("x" * 3000 + ".com", None, None),
    ],
)
def test_host_and_domain_name(value: Any, host: str | None, name: str | None) -> None:
    assert domains.host_of(value) == host
    assert domains.domain_name(value) == name


def test_every_caller_parses_a_domain_the_same_way() -> None:
    """ids, expressions, templates and the classifier agree, because they share one parser."""
    website = "https://WWW.Shop.Acme.co.uk:443/pricing"
    expression = compile_expression("domain(website)")
    template = compile_template("{{ website | domain }}")
    assert id_key(website) == "shop.acme.co.uk"
    assert expression.evaluate({"website": website}, {}) == "shop.acme.co.uk"
    assert template.render({"website": website}) == "shop.acme.co.uk"
    assert website_tld(website) == "uk"
    assert website_tld("https://acme.github.io") == "io"  # the ICANN TLD, not the private suffix


def test_the_identity_gate_refuses_a_namesake_on_a_shared_host() -> None:
    for shared in ("vercel.app", "github.io", "herokuapp.com"):
        site = f"https://specific.{shared}"
        # Another tenant of the same shared host is another company.
        assert not company_matches(f"Specific (other.{shared})", "Specific", site)
        assert not company_matches(f"other.{shared}", "Specific", site)
        # The shared host's own name is no name of the company.
        assert not company_matches(shared.split(".")[0].title(), "Specific", site)
        assert not company_matches(shared, "Specific", site)
        # The company's own tenant still matches.
        assert company_matches(f"specific.{shared}", "Specific", site)
        assert company_matches(f"Specific (www.specific.{shared})", "Specific", site)
    assert company_matches("acme.co.uk, Ltd.", "Acme Widgets", "https://shop.acme.co.uk")
    assert not company_matches("Acme (acme.com)", "Acme Widgets", "https://acme.co.uk")


def test_the_suffix_list_is_never_fetched_nor_cached(tmp_path: Path) -> None:
    """A fresh process told by tldextract's own variable to fetch a list asks no one, writes
    no cache, and still knows the suffixes (from the bundled snapshot)."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"com\n")

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    env = {
        **os.environ,
        "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": f"http://127.0.0.1:{server.server_port}/psl.dat",
        "TLDEXTRACT_CACHE": str(tmp_path / "cache"),
        "XDG_CACHE_HOME": str(tmp_path / "xdg"),
        "HOME": str(tmp_path / "home"),
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
    }
    code = (
        "from lead_pipeline import domains; "
        "print(domains.registrable_domain('a.b.example.co.jp'), "
        "domains.registrable_domain('x.acme.github.io'))"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
        )
    finally:
        server.shutdown()
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["example.co.jp", "acme.github.io"]
    assert hits == []
    assert not any(tmp_path.rglob("*")), list(tmp_path.rglob("*"))
