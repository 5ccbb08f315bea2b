"""The domain module against the Public Suffix List's own tests (``tests/test_psl.txt``).

Each ``checkPublicSuffix(input, expected)`` of the PSL's file (committed in
``lead_pipeline_tests/corpora``) asks for the registrable domain of a host; ours is
``registrable_domain(domain_name(value))``, the question every caller asks of a
website cell (the identity gate, the work-email gate, HubSpot's company domain).

We differ from the file on purpose in the cases of :data:`DIFFERENT_ON_PURPOSE`, all
one rule: a bare public suffix is its own site, where the PSL has no registrable
domain (``null``). For lead data that is the safer answer: a lead whose website is
``uk.com`` or ``kyoto.jp`` is that site (CentralNic's, Kyoto's), calling it its own
site only ever matches that same host and never a tenant under it
(``acme.uk.com`` stays ``acme.uk.com``), and ``null`` would leave the company with
no website at all. Every other case must agree.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lead_pipeline.domains import domain_name, registrable_domain

PSL_TESTS = Path(__file__).resolve().parent / "corpora" / "test_psl.txt"
_CASE = re.compile(r"^checkPublicSuffix\((null|'[^']*'), (null|'[^']*')\);$")


def _value(token: str) -> str | None:
    return None if token == "null" else token[1:-1]


def psl_cases() -> list[tuple[str | None, str | None]]:
    cases = []
    for line in PSL_TESTS.read_text(encoding="utf-8").splitlines():
        if match := _CASE.match(line.strip()):
            cases.append((_value(match.group(1)), _value(match.group(2))))
    return cases


# input -> what we answer instead of the PSL's null: the bare suffix itself.
DIFFERENT_ON_PURPOSE = {
    "uk.com": "uk.com",  # a private-section suffix whose owner has a site there
    "c.mm": "c.mm",  # under the wildcard *.mm
    "ac.jp": "ac.jp",
    "kyoto.jp": "kyoto.jp",
    "ide.kyoto.jp": "ide.kyoto.jp",
    "c.kobe.jp": "c.kobe.jp",  # under the wildcard *.kobe.jp
    "test.ck": "test.ck",  # under the wildcard *.ck
    "ak.us": "ak.us",
    "k12.ak.us": "k12.ak.us",
    "公司.cn": "公司.cn",
    "xn--55qx5d.cn": "xn--55qx5d.cn",  # the same, punycoded
}


def site(value: str | None) -> str | None:
    host = domain_name(value)
    return registrable_domain(host) if host else None


def test_the_file_is_the_one_we_read() -> None:
    cases = psl_cases()
    assert len(cases) == 78
    assert set(DIFFERENT_ON_PURPOSE) <= {given for given, _ in cases}
    assert all(dict(cases)[given] is None for given in DIFFERENT_ON_PURPOSE)


@pytest.mark.parametrize(("given", "expected"), psl_cases())
def test_the_public_suffix_list_s_own_cases(given: str | None, expected: str | None) -> None:
    wanted = DIFFERENT_ON_PURPOSE.get(given, expected) if given is not None else expected
    assert site(given) == wanted


@pytest.mark.parametrize(
    ("value", "host"),
    [
        ("www.ck", "www.ck"),  # "!www.ck": www is the registrable label
        ("https://www.www.ck/", "www.ck"),
        ("www.vercel.app", "www.vercel.app"),  # a tenant called www
        ("www.com", "www.com"),
        ("https://www.acme.com", "acme.com"),  # everywhere else www goes
        ("WWW.acme.co.uk", "acme.co.uk"),
        ("www.acme.vercel.app", "acme.vercel.app"),
    ],
)
def test_www_is_dropped_unless_it_is_the_site_s_own_label(value: str, host: str) -> None:
    assert domain_name(value) == host
