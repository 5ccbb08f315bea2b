"""The work-email gate compares an address's domain and the website in one spelling."""

from __future__ import annotations

import pytest

from lead_pipeline.domains import ascii_domain
from lead_pipeline.founders.emails import check_work_email


@pytest.mark.parametrize(
    ("address", "website", "stored"),
    [
        # The validator gives the address's domain as punycode; the website stays Unicode.
        ("ada@bücher.de", "https://bücher.de", "ada@xn--bcher-kva.de"),
        ("ada@xn--bcher-kva.de", "https://bücher.de", "ada@xn--bcher-kva.de"),
        ("ada@bücher.de", "https://xn--bcher-kva.de/team", "ada@xn--bcher-kva.de"),
        ("ada@BÜCHER.DE", "www.Bücher.de", "ada@xn--bcher-kva.de"),
        ("ada@mail.bücher.de", "https://bücher.de", "ada@mail.xn--bcher-kva.de"),
        # IDNA 2008 keeps ß (IDNA 2003 made it "ss"): both sides spell it the same.
        ("ada@straße.de", "https://straße.de", "ada@xn--strae-oqa.de"),
        ("ada@例え.jp", "https://例え.jp", "ada@xn--r8jz45g.jp"),
        ("ada@acme.com", "https://www.acme.com", "ada@acme.com"),
    ],
)
def test_an_address_at_the_company_s_idn_domain_is_accepted(
    address: str, website: str, stored: str
) -> None:
    check = check_work_email(address, website)
    assert check.ok, check.reason
    assert check.email == stored


@pytest.mark.parametrize(
    ("address", "website"),
    [
        ("ada@bucher.de", "https://bücher.de"),  # the accent is the name
        ("ada@strasse.de", "https://straße.de"),
        ("ada@bücher.com", "https://bücher.de"),
        ("ada@andere.vercel.app", "https://bücher.vercel.app"),  # another tenant
    ],
)
def test_a_look_alike_domain_is_still_refused(address: str, website: str) -> None:
    check = check_work_email(address, website)
    assert not check.ok and "is not the company's domain" in (check.reason or "")


def test_ascii_domain_is_one_spelling() -> None:
    assert ascii_domain("Bücher.DE.") == ascii_domain("xn--bcher-kva.de") == "xn--bcher-kva.de"
    assert ascii_domain("acme.com") == "acme.com"
    assert ascii_domain("not a domain!") == "not a domain!"  # refused by IDNA: kept as is
