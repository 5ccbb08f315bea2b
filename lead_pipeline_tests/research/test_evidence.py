"""The evidence rules (``research/evidence.py``): an answer is kept only when its quote is
on a page the node read and holds every number, date and amount the answer states."""

from __future__ import annotations

import pytest

from lead_pipeline.research.evidence import Evidence, PageTexts, check, normalise, page_key

ABOUT = "https://www.acme.com/about/"
PRICING = "https://acme.com/pricing"
ABOUT_TEXT = (
    "Acme\u00a0builds  payroll software\nfor small businesses. Founded in March 2019,\n"
    "we are a team of 30 people in Berlin, Germany. \u201cWe\u2019re the payroll people\u201d "
    "\u2014 our customers. Revenue passed \u20ac1,200,000 last year; 50k invoices a month. "
    "Our next release ships 2025-03-01."
)
PRICING_TEXT = "Plans start at $49/month per seat. Enterprise: contact sales. Free trial."


@pytest.fixture
def pages() -> PageTexts:
    found = PageTexts()
    found.add(ABOUT_TEXT, ABOUT, "https://acme.com/about")
    found.add(PRICING_TEXT, PRICING)
    return found


def test_normalise_folds_what_a_copy_changes() -> None:
    assert normalise("We\u2019re  \u201cTHE\u201d\nbest \u2014 Stra\u00dfe \uff21") == (
        'we\'re "the" best - strasse a'
    )


def test_page_key_ignores_what_does_not_change_the_page() -> None:
    assert page_key("HTTPS://www.Acme.com:443/about/#team") == page_key("https://acme.com/about")
    assert page_key("http://acme.com/about") == page_key("https://acme.com/about")
    assert page_key("https://acme.com/about?x=1") != page_key("https://acme.com/about")
    assert page_key("https://acme.com:8443/about") != page_key("https://acme.com/about")


def test_a_supported_answer_passes_whatever_the_typography(pages: PageTexts) -> None:
    # The model copied with straight quotes, a plain dash, other case and other spacing.
    quote = '"we\'re the payroll people" - OUR customers'
    assert check("payroll software", Evidence("https://acme.com/about", quote), pages) is None
    quote = "builds payroll software for small businesses"
    assert check("payroll software", Evidence(ABOUT, f"\u201c{quote}\u201d"), pages) is None


def test_an_invented_quote_is_refused_naming_the_page(pages: PageTexts) -> None:
    reason = check("HR software", Evidence(ABOUT, "Acme builds HR software for everyone"), pages)
    assert reason == "unsupported: quote not found on https://www.acme.com/about/"


def test_a_page_the_node_did_not_read_is_refused(pages: PageTexts) -> None:
    reason = check("x", Evidence("https://evil.example/about", "builds payroll software"), pages)
    assert reason == "unsupported: https://evil.example/about is not a page this node read"
    # The right text quoted under another page of the same site is not on that page.
    reason = check("payroll", Evidence(PRICING, "builds payroll software"), pages)
    assert reason == f"unsupported: quote not found on {PRICING}"


@pytest.mark.parametrize(
    ("value", "quote", "reason"),
    [
        (30, "we are a team of 30 people", None),
        (35, "we are a team of 30 people", "the number 35"),
        ("11-50", "we are a team of 30 people", None),  # 30 is inside the range
        ("51-200", "we are a team of 30 people", "the range 51-200"),
        ("11 to 50", "a team of 30 people in berlin", None),
        ("10+", "a team of 30 people", None),
        ("100+", "a team of 30 people", "the range 100+"),
        ("$49 per month", "plans start at $49/month per seat", None),
        ("$59 per month", "plans start at $49/month per seat", "the number 59"),
        ("\u20ac49 per month", "plans start at $49/month per seat", "the currency \u20ac"),
        ("EUR 1.2 million", "revenue passed \u20ac1,200,000 last year", None),
        ("1200000", "revenue passed \u20ac1,200,000 last year", None),
        ("50,000 invoices", "50k invoices a month", None),
        ("founded March 2019", "founded in march 2019", None),
        ("founded May 2019", "founded in march 2019", "the month may"),
        ("2025-03-01", "our next release ships 2025-03-01", None),
        ("2025-04-01", "our next release ships 2025-03-01", "the date 2025-04-01"),
        ("B2B payroll", "builds payroll software for small businesses", None),
        (["payroll", "7 products"], "builds payroll software for small businesses", "the number 7"),
        (True, "builds payroll software for small businesses", None),
        (4.5, "a team of 30 people", "the number 4.5"),
    ],
)
def test_every_number_date_and_amount_must_be_in_the_quote(
    value: object, quote: str, reason: str | None
) -> None:
    pages = PageTexts()
    pages.add(ABOUT_TEXT + " " + PRICING_TEXT, ABOUT)
    got = check(value, Evidence(ABOUT, quote), pages)
    assert got == (None if reason is None else f"unsupported: {reason} is not in the quote")


def test_no_answer_needs_no_evidence_and_an_answer_always_does(pages: PageTexts) -> None:
    assert check(None, None, pages) is None
    assert check("payroll", None, pages) == "unsupported: no source given"
    assert check("payroll", Evidence(" ", "builds payroll"), pages) == (
        "unsupported: no source given"
    )


def test_quotes_that_prove_nothing_are_refused(pages: PageTexts) -> None:
    assert check("Acme", Evidence(ABOUT, "Acme"), pages) == (
        "unsupported: quote too short to check on https://www.acme.com/about/"
    )
    whole = ABOUT_TEXT * 5
    pages.add(whole, "https://acme.com/long")
    assert check("x", Evidence("https://acme.com/long", whole), pages) == (
        "unsupported: quote longer than 600 characters"
    )


def test_a_quote_spliced_from_two_places_is_not_found(pages: PageTexts) -> None:
    spliced = "builds payroll software ... a team of 30 people"
    assert check(30, Evidence(ABOUT, spliced), pages) == (
        "unsupported: quote not found on https://www.acme.com/about/"
    )


def test_hostile_text_in_urls_and_quotes_stays_one_short_line(pages: PageTexts) -> None:
    url = "https://evil.example/" + "a" * 500 + "\nline"
    reason = check("x", Evidence(url, "builds payroll software"), pages)
    assert reason is not None and "\n" not in reason and len(reason) < 260
    assert check("x", Evidence("not a url at all", "builds payroll"), pages) is not None
    assert check("x", Evidence("http://[::1", "builds payroll"), pages) is not None
