"""Founder titles: the ``founders`` column holds founders and CEOs, nobody who works for them."""

from __future__ import annotations

import pytest

from lead_pipeline.founders import founder_title


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("Founder", "Founder"),
        ("Co-founder", "Co-founder"),
        ("Co-Founder & CEO", "Co-Founder & CEO"),
        ("co founder", "co founder"),
        ("Cofounder", "Cofounder"),
        ("CoFounder/CTO", "CoFounder/CTO"),
        ("Co\u2011founder & CTO", "Co\u2011founder & CTO"),
        ("Founder & CEO", "Founder & CEO"),
        ("CEO & Co-Founder", "CEO & Co-Founder"),
        ("CTO & Co-founder", "CTO & Co-founder"),
        ("Co-founder, COO", "Co-founder, COO"),
        ("CEO", "CEO"),
        ("Chief Executive Officer", "Chief Executive Officer"),
        ("President & CEO", "President & CEO"),
        ("Founding CEO", "Founding CEO"),
        ("Technical Co-founder", "Technical Co-founder"),
        ("Serial founder", "Serial founder"),
        ("Jane Doe is the co-founder and CEO", "co-founder and CEO"),
        ("Co-founder and CEO  ", "Co-founder and CEO"),
    ],
)
def test_founders_and_ceos_are_accepted_with_a_tidy_title(text: str, title: str) -> None:
    assert founder_title(text) == title


@pytest.mark.parametrize(
    "text",
    [
        # other C-level titles count only together with a founder word
        "CTO",
        "Chief Technology Officer",
        "COO",
        "Chief Operating Officer",
        "President",
        "Vice President of Sales",
        "Owner",
        "Product Owner",
        "Managing Director",
        "Founding Engineer",
        "Founding Partner",
        "Founding Member of Technical Staff",
        "Software Engineer",
        "Head of Growth",
        # someone else's founder or CEO
        "Founder's Associate",
        "Founder\u2019s Associate",
        "Founders Associate",
        "Founder Associate",
        "Associate to the Founder",
        "Founder in Residence",
        "Entrepreneur in Residence",
        "Executive Assistant to the CEO",
        "Chief of Staff to the CEO",
        "Office of the CEO",
        "Founder Relations",
        "Founder Success Manager",
        "CEO Coach",
        "Partner at Founders Fund",
        "Investing in founders",
        # not now
        "Former Founder",
        "Former Founder & CEO",
        "Ex-CEO",
        "ex CEO",
        "Previously Co-founder",
        "Past CEO",
        "Retired CEO",
        "Interim CEO",
        "Acting CEO",
        "Aspiring Founder",
        "CEO, ex-founder",
        "Hired by the CEO",
        "Worked with our founder",
        "Reports to the CEO",
        "Our CEO",
        "My co-founder and I",
        "",
        None,
    ],
)
def test_everyone_else_is_refused(text: str | None) -> None:
    assert founder_title(text) is None


def test_founder_somewhere_else_in_the_words_does_not_count() -> None:
    assert founder_title("Founding Designer") is None
    assert founder_title("Co-founded nothing yet") is None
    assert founder_title("Founder in San Francisco") == "Founder in San Francisco"
