"""Reading LinkedIn result titles and snippets into a name and (role, company) claims."""

from __future__ import annotations

import pytest

from lead_pipeline.founders.parse import Claim, clean_name, parse_result, split_role_at_org


def claims(title: str, snippet: str = "") -> list[tuple[str | None, str | None]]:
    return [(c.role, c.org) for c in parse_result(title, snippet).claims]


@pytest.mark.parametrize(
    ("title", "name", "expected"),
    [
        (
            "Jane Doe - Co-founder & CEO - Hyperspell | LinkedIn",
            "Jane Doe",
            [("Co-founder & CEO", "Hyperspell")],
        ),
        ("Jane Doe \u2013 Hyperspell | LinkedIn", "Jane Doe", [(None, "Hyperspell")]),
        ("Jane Doe \u2014 Hyperspell \u2014 LinkedIn", "Jane Doe", [(None, "Hyperspell")]),
        (
            "John Smith - Founder at Bolna AI - LinkedIn",
            "John Smith",
            [("Founder", "Bolna AI")],
        ),
        ("John Smith - CEO @ Deeptrace | LinkedIn", "John Smith", [("CEO", "Deeptrace")]),
        ("John Smith - CEO @Deeptrace | LinkedIn", "John Smith", [("CEO", "Deeptrace")]),
        (
            "John Smith - Co-founder of Deeptrace | LinkedIn",
            "John Smith",
            [("Co-founder", "Deeptrace")],
        ),
        ("John Smith | LinkedIn", "John Smith", []),
        ("John Smith - Founder | LinkedIn", "John Smith", [("Founder", None)]),
        (
            "Ana Lima - Software Engineer - Deeptrace | LinkedIn",
            "Ana Lima",
            [("Software Engineer", "Deeptrace")],
        ),
        (
            "Ana Lima - Deeptrace - San Francisco Bay Area | LinkedIn",
            "Ana Lima",
            [(None, "Deeptrace"), (None, "San Francisco Bay Area")],
        ),
        # cut off inside the company: the company is unknown, the role survives
        ("Jane Doe - Co-founder & CEO - Hypersp...", "Jane Doe", [("Co-founder & CEO", None)]),
        ("Jane Doe - Hypersp\u2026", "Jane Doe", []),
        # cut off inside "| LinkedIn" or right after a separator: the company is whole
        (
            "Jane Doe - Co-founder & CEO - Hyperspell | Linked...",
            "Jane Doe",
            [("Co-founder & CEO", "Hyperspell")],
        ),
        (
            "Jane Doe - Co-founder & CEO - Hyperspell | ...",
            "Jane Doe",
            [("Co-founder & CEO", "Hyperspell")],
        ),
        (
            "Dr. Jane Doe, PhD (She/Her) \U0001f680 - CEO - Hyperspell | LinkedIn",
            "Dr. Jane Doe",
            [("CEO", "Hyperspell")],
        ),
    ],
)
def test_title_shapes(title: str, name: str, expected: list) -> None:
    parsed = parse_result(title, "")
    assert parsed.name == name
    assert not parsed.is_post
    assert [(c.role, c.org) for c in parsed.claims] == expected
    assert all(c.source == "title" for c in parsed.claims)


@pytest.mark.parametrize(
    "title",
    [
        "Jane Doe on LinkedIn: We just launched Hyperspell on Product Hunt",
        "Jane Doe posted on LinkedIn",
        "Jane Doe's Post - LinkedIn",
        "Jane Doe\u2019s Post",
        "Founding a company - LinkedIn Learning",
    ],
)
def test_posts_are_recognised(title: str) -> None:
    parsed = parse_result(title, "Co-founder & CEO at Hyperspell")
    assert parsed.is_post
    assert parsed.name is None
    assert parsed.claims == ()


def test_snippet_fields_and_headline() -> None:
    snippet = (
        "Co-founder & CEO at Hyperspell (YC F25) · Experience: Hyperspell · "
        "Education: Massachusetts Institute of Technology · Location: San Francisco · "
        "500+ connections on LinkedIn. View Jane Doe's profile on LinkedIn, a professional "
        "community of 1 billion members."
    )
    assert claims("Jane Doe | LinkedIn", snippet) == [
        ("Co-founder & CEO", "Hyperspell (YC F25)"),
        (None, "Hyperspell"),
    ]
    assert all(c.source == "snippet" for c in parse_result("Jane Doe | LinkedIn", snippet).claims)


def test_snippet_sentences_are_read_one_by_one() -> None:
    snippet = (
        "Jane Doe. Founder & CEO at Deeptrace Inc. We build AI that investigates production "
        "alerts. San Francisco Bay Area. 500+ connections."
    )
    assert claims("Jane Doe | LinkedIn", snippet) == [("Founder & CEO", "Deeptrace Inc")]


def test_snippet_role_without_company_and_cut_off_text() -> None:
    snippet = "Co-founder & CTO · Experience: Hyperspe..."
    assert claims("Jane Doe | LinkedIn", snippet) == [("Co-founder & CTO", None)]
    snippet = "Co-founder at Hyperspe\u2026"
    assert claims("Jane Doe | LinkedIn", snippet) == [("Co-founder", None)]


def test_unrelated_snippet_text_is_not_a_company() -> None:
    snippet = "Building the memory layer for AI agents. Previously at Google. Stanford CS."
    assert claims("Jane Doe | LinkedIn", snippet) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Founder at Acme", ("Founder", "Acme")),
        ("Co-founder & CEO at Acme (YC F25) | ex-Google", ("Co-founder & CEO", "Acme (YC F25)")),
        ("Founder @ Acme, ex-Stripe", ("Founder", "Acme")),
        ("Founder at Acme, Inc.", ("Founder", "Acme, Inc")),
        ("Founder at Acme: memory for agents", ("Founder", "Acme")),
        ("CEO at Acme and ex-Stripe", ("CEO", "Acme")),
        ("CEO at Acme formerly Stripe", ("CEO", "Acme")),
        ("Co-founder of Acme", ("Co-founder", "Acme")),
        ("Founder & CEO, Acme", ("Founder & CEO", "Acme")),
        ("Head of Growth at Acme", ("Head of Growth", "Acme")),
        ("Chief of Staff, Acme", ("Chief of Staff", "Acme")),
        ("Founder, CEO", None),
        ("Head of Growth", None),
        ("San Francisco, California", None),
        ("jane@acme.com", None),
        ("Stanford University", None),
    ],
)
def test_split_role_at_org(text: str, expected: tuple[str, str] | None) -> None:
    assert split_role_at_org(text) == expected


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Jane Doe", "Jane Doe"),
        ("  Jane   Doe ", "Jane Doe"),
        ("Zoë O\u2019Brien-Nakamura", "Zoë O\u2019Brien-Nakamura"),
        ("Jane Doe, MBA, CFA", "Jane Doe"),
        ("Jane Doe (she/her)", "Jane Doe"),
        ("\U0001f680 Jane Doe \U0001f680", "Jane Doe"),
        ("张伟", "张伟"),
        ("Mark Head", "Mark Head"),
        ("Co-founder & CEO", None),
        ("LinkedIn", None),
        ("12345", None),
        ("", None),
        ("One Two Three Four Five Six Seven", None),
    ],
)
def test_clean_name(text: str, name: str | None) -> None:
    assert clean_name(text) == name


def test_claim_is_a_value() -> None:
    assert Claim("CEO", "Acme", "title") == Claim("CEO", "Acme", "title")
