"""Founders from realistic search-result lists for real YC Fall 2025 companies, with decoys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lead_pipeline.founders import (
    DEFAULT_LIMIT,
    Person,
    extract_people,
    founder_search_query,
    is_canonical_profile_url,
)


@pytest.fixture(scope="module")
def companies(yc_f25_path: Path) -> list[dict]:
    return json.loads(yc_f25_path.read_text(encoding="utf-8"))


def website_of(companies: list[dict], name: str) -> str:
    [website] = [c["website"] for c in companies if c["name"] == name]
    return website


def result(title: str, url: str, snippet: str = "") -> dict[str, str]:
    return {"title": title, "url": url, "snippet": snippet}


def test_hyperspell_founders_among_decoys(companies: list[dict]) -> None:
    website = website_of(companies, "Hyperspell")
    results = [
        result(
            "Conor Brennan-Burke - Co-founder & CEO - Hyperspell | LinkedIn",
            "https://uk.linkedin.com/in/Conor-Brennan-Burke/?trk=public_profile_browsemap",
            "Co-founder & CEO at Hyperspell (YC F25) · Experience: Hyperspell · "
            "Education: Harvard University · Location: San Francisco",
        ),
        # the same profile again, spelled differently: one founder
        result(
            "Conor Brennan-Burke - Hyperspell | LinkedIn",
            "https://www.linkedin.com/in/conor-brennan-burke",
            "Co-founder & CEO · Experience: Hyperspell",
        ),
        result(
            "Hyperspell | LinkedIn",
            "https://www.linkedin.com/company/hyperspell",
            "Hyperspell | 1,024 followers on LinkedIn. Memory for AI agents.",
        ),
        result(
            "Conor Brennan-Burke on LinkedIn: Hyperspell is live on Product Hunt",
            "https://www.linkedin.com/posts/conor-brennan-burke_hyperspell-activity-7350",
            "Co-founder & CEO at Hyperspell.",
        ),
        # a post served under a profile-like URL is still a post
        result(
            "Conor Brennan-Burke on LinkedIn: We're hiring founding engineers",
            "https://www.linkedin.com/in/conor-brennan-burke/recent-activity/all/",
            "Co-founder & CEO at Hyperspell.",
        ),
        result(
            "Priya Raman - Founding Engineer - Hyperspell | LinkedIn",
            "https://www.linkedin.com/in/priya-raman-1b2c3d",
            "Founding Engineer at Hyperspell · Experience: Hyperspell",
        ),
        # same company name, different company
        result(
            "Tom Okafor - Founder - Hyperspell Ventures | LinkedIn",
            "https://www.linkedin.com/in/tomokafor",
            "Founder at Hyperspell Ventures · Experience: Hyperspell Ventures",
        ),
        result(
            "Manu Ebert - Hyperspell | LinkedIn",
            "https://de.linkedin.com/in/manuebert/de?originalSubdomain=de",
            "Co-founder & CTO · Experience: Hyperspell · Education: University of Bonn",
        ),
        result(
            "Why AI agents need memory - Conor Brennan-Burke",
            "https://www.linkedin.com/pulse/why-ai-agents-need-memory-conor-brennan-burke",
            "Co-founder & CEO at Hyperspell.",
        ),
        result(
            "Hyperspell - Crunchbase Company Profile & Funding",
            "https://www.crunchbase.com/organization/hyperspell",
            "Founder & CEO: Conor Brennan-Burke",
        ),
    ]
    people = extract_people(results, "Hyperspell", website)
    assert [p.to_dict() for p in people] == [
        {
            "name": "Conor Brennan-Burke",
            "title": "Co-founder & CEO",
            "linkedin_url": "https://www.linkedin.com/in/conor-brennan-burke",
            "source_url": (
                "https://uk.linkedin.com/in/Conor-Brennan-Burke/?trk=public_profile_browsemap"
            ),
        },
        {
            "name": "Manu Ebert",
            "title": "Co-founder & CTO",
            "linkedin_url": "https://www.linkedin.com/in/manuebert",
            "source_url": "https://de.linkedin.com/in/manuebert/de?originalSubdomain=de",
        },
    ]
    assert all(is_canonical_profile_url(p.linkedin_url) for p in people)


def test_pilot_is_not_autopilot() -> None:
    results = [
        result(
            "John Roe - Founder - Autopilot Labs | LinkedIn",
            "https://www.linkedin.com/in/johnroe",
            "Founder at Autopilot Labs · Experience: Autopilot Labs",
        ),
        result(
            "Jane Doe - CEO - Pilot.com | LinkedIn",
            "https://www.linkedin.com/in/janedoe-pilot",
            "CEO at Pilot.com · Experience: Pilot",
        ),
        result(
            "Sam Lee - Co-founder - Pilot AI | LinkedIn",
            "https://www.linkedin.com/in/samlee",
            "Co-founder at Pilot AI",
        ),
    ]
    people = extract_people(results, "Pilot", "https://pilot.com")
    # Pilot is not a short name, so "Pilot AI" is Pilot with a brand suffix (no website in it
    # contradicts pilot.com); Autopilot Labs is another company.
    assert [(p.name, p.title) for p in people] == [("Jane Doe", "CEO"), ("Sam Lee", "Co-founder")]
    assert extract_people(results, "Pilot", "https://pilot.ai") == [people[1]]


def test_short_name_nori_needs_the_exact_name_or_its_website(companies: list[dict]) -> None:
    website = website_of(companies, "Nori")
    results = [
        result("Ana Lima - Co-founder - Nori Labs | LinkedIn", "https://linkedin.com/in/analima"),
        result("Ben Wu - Founder at Nori Health - LinkedIn", "https://www.linkedin.com/in/benwu"),
        result("Cara Diaz - CEO - Nori AI | LinkedIn", "https://www.linkedin.com/in/caradiaz"),
        result(
            "Dev Shah - Nori | LinkedIn",
            "https://www.linkedin.com/in/devshah",
            "Co-founder & CTO · Experience: Nori",
        ),
    ]
    people = extract_people(results, "Nori", website)
    assert [(p.name, p.title) for p in people] == [
        ("Cara Diaz", "CEO"),
        ("Dev Shah", "Co-founder & CTO"),
    ]


def test_the_two_specifics_are_told_apart_by_website(companies: list[dict]) -> None:
    websites = sorted(c["website"] for c in companies if c["name"] == "Specific")
    assert websites == ["https://specific.dev", "https://withspecific.com"]
    results = [
        result(
            "Lena Park - Co-founder - Specific.dev | LinkedIn",
            "https://www.linkedin.com/in/lenapark",
        ),
        result(
            "Omar Haddad - Founder & CEO - withspecific.com | LinkedIn",
            "https://www.linkedin.com/in/omarhaddad",
        ),
    ]
    assert [p.name for p in extract_people(results, "Specific", "https://specific.dev")] == [
        "Lena Park"
    ]
    assert [p.name for p in extract_people(results, "Specific", "https://withspecific.com")] == [
        "Omar Haddad"
    ]


def test_a_founder_role_for_another_company_is_refused(companies: list[dict]) -> None:
    website = website_of(companies, "Deeptrace")
    results = [
        # works at Deeptrace, founded something else
        result(
            "Ravi Kumar - Deeptrace | LinkedIn",
            "https://www.linkedin.com/in/ravikumar",
            "Founder at Kumar Consulting · Experience: Deeptrace",
        ),
        # founder, but the only company named is another one
        result(
            "Ravi Kumar - Founder - Kumar Consulting | LinkedIn",
            "https://www.linkedin.com/in/ravi-kumar-2",
            "Experience: Deeptrace",
        ),
        result(
            "Mia Chen - Former Co-founder - Deeptrace | LinkedIn",
            "https://www.linkedin.com/in/miachen",
        ),
        result(
            "Leo Brandt - Chief of Staff to the CEO - Deeptrace | LinkedIn",
            "https://www.linkedin.com/in/leobrandt",
        ),
        result(
            "Ava Stone - CTO - Deeptrace | LinkedIn",
            "https://www.linkedin.com/in/avastone",
            "CTO at Deeptrace",
        ),
        # a founder role and a company, but the company part was cut off
        result(
            "Noah Fox - Co-founder & CEO - Deeptrace Capi...",
            "https://www.linkedin.com/in/noahfox",
        ),
    ]
    assert extract_people(results, "Deeptrace", website) == []


def test_the_title_decides_where_the_person_works(companies: list[dict]) -> None:
    website = website_of(companies, "Hyperspell")
    results = [
        # an engineer elsewhere whose snippet quotes the founder
        result(
            "Tom Lee - Software Engineer - Google | LinkedIn",
            "https://www.linkedin.com/in/tomlee",
            "Recommended by Conor, Founder & CEO at Hyperspell. Experience: Google",
        ),
        result(
            "Amy Ng - Google | LinkedIn",
            "https://www.linkedin.com/in/amyng",
            "Co-founder at Hyperspell (side project)",
        ),
        result(
            "Raj Iyer - Software Engineer - Hyperspell | LinkedIn",
            "https://www.linkedin.com/in/rajiyer",
            "Hired by the CEO of Hyperspell as the first engineer.",
        ),
    ]
    assert extract_people(results, "Hyperspell", website) == []


def test_a_founder_found_in_two_halves_of_one_result(companies: list[dict]) -> None:
    website = website_of(companies, "Deeptrace")
    results = [
        # title cut off in the company; the snippet says where the role is
        result(
            "Noah Fox - Co-founder & CEO - Deeptr...",
            "https://www.linkedin.com/in/noahfox",
            "Experience: Deeptrace · Education: Stanford University",
        ),
        # no company in the title at all
        result(
            "Ella Ruiz | LinkedIn",
            "https://www.linkedin.com/in/ellaruiz",
            "Ella Ruiz. Co-founder at Deeptrace Inc. We build AI for on-call engineers. "
            "San Francisco Bay Area.",
        ),
    ]
    people = extract_people(results, "Deeptrace", website)
    assert [(p.name, p.title) for p in people] == [
        ("Noah Fox", "Co-founder & CEO"),
        ("Ella Ruiz", "Co-founder"),
    ]


def test_name_website_and_legal_form_variants(companies: list[dict]) -> None:
    results = [
        result(
            "Kai Mori - Founder & CEO - Lua Global, LLC | LinkedIn",
            "https://www.linkedin.com/in/kaimori",
        ),
        result(
            "Rosa Vega - Co-Founder at HeyLua - LinkedIn", "https://www.linkedin.com/in/rosavega"
        ),
        result(
            "Ivan Petrov - Co-founder - heylua.ai | LinkedIn",
            "https://www.linkedin.com/in/ivanpetrov",
        ),
        result("Zed Cole - Founder - Lua | LinkedIn", "https://www.linkedin.com/in/zedcole"),
    ]
    people = extract_people(results, "Lua Global Inc", website_of(companies, "Lua Global Inc"))
    assert [p.name for p in people] == ["Kai Mori", "Rosa Vega", "Ivan Petrov"]


def test_at_most_limit_people_in_result_order() -> None:
    results = [
        result(
            f"Person {chr(65 + i)} - Co-founder - Hyperspell | LinkedIn",
            f"https://www.linkedin.com/in/person-{i}",
        )
        for i in range(8)
    ]
    people = extract_people(results, "Hyperspell", "hyperspell.com")
    assert DEFAULT_LIMIT == 5
    assert [p.name for p in people] == [f"Person {c}" for c in "ABCDE"]
    people = extract_people(results, "Hyperspell", "hyperspell.com", limit=2)
    assert [p.linkedin_url for p in people] == [
        "https://www.linkedin.com/in/person-0",
        "https://www.linkedin.com/in/person-1",
    ]
    with pytest.raises(ValueError, match="limit must be at least 1"):
        extract_people(results, "Hyperspell", None, limit=0)


def test_one_person_under_two_profile_urls_counts_once() -> None:
    results = [
        result("José Núñez - CEO - Hyperspell | LinkedIn", "https://www.linkedin.com/in/jnunez"),
        result(
            "Jose Nunez - Co-founder & CEO - Hyperspell | LinkedIn",
            "https://www.linkedin.com/in/jose-nunez-8812",
        ),
    ]
    people = extract_people(results, "Hyperspell", None)
    assert [(p.name, p.linkedin_url) for p in people] == [
        ("José Núñez", "https://www.linkedin.com/in/jnunez")
    ]


def test_a_refused_result_does_not_block_a_later_one_for_the_same_profile() -> None:
    results = [
        result("Ana Lima | LinkedIn", "https://www.linkedin.com/in/analima", "Loves hiking."),
        result("Ana Lima - Founder - Hyperspell | LinkedIn", "https://uk.linkedin.com/in/analima/"),
    ]
    [person] = extract_people(results, "Hyperspell", None)
    assert person.source_url == "https://uk.linkedin.com/in/analima/"


def test_missing_and_none_fields_are_empty_text() -> None:
    results = [
        {"url": "https://www.linkedin.com/in/analima"},
        {"title": None, "url": None, "snippet": None},
        {
            "title": "Ana Lima - Founder - Hyperspell | LinkedIn",
            "url": "https://www.linkedin.com/in/analima",
            "snippet": None,
        },
    ]
    assert [p.name for p in extract_people(results, "Hyperspell", None)] == ["Ana Lima"]
    assert extract_people([], "Hyperspell", None) == []


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("not a result", r"search result #1: expected a mapping"),
        ({"title": "x", "url": 42}, r"search result #1: field 'url' must be a string, got int"),
        ({"title": ["x"], "url": "u"}, r"search result #1: field 'title' must be a string"),
        ({"url": "u", "snippet": b"x"}, r"search result #1: field 'snippet' must be a string"),
    ],
)
def test_malformed_results_name_the_record_and_field(bad: object, message: str) -> None:
    good = result("Ana Lima | LinkedIn", "https://www.linkedin.com/in/analima")
    with pytest.raises(ValueError, match=message):
        extract_people([good, bad], "Hyperspell", None)


def test_person_to_dict_has_exactly_the_column_fields() -> None:
    person = Person("Ana Lima", "Founder", "https://www.linkedin.com/in/analima", "https://x")
    assert person.to_dict() == {
        "name": "Ana Lima",
        "title": "Founder",
        "linkedin_url": "https://www.linkedin.com/in/analima",
        "source_url": "https://x",
    }


def test_every_fall_2025_company_keeps_its_founder_and_refuses_the_decoys(
    companies: list[dict],
) -> None:
    """One synthetic result list per real company: only the real founder may survive."""
    assert len(companies) == 148
    for company in companies:
        name, website = company["name"], company["website"]
        slug = "".join(ch for ch in name.lower() if ch.isalnum()) or "x"
        results = [
            result(
                f"Jane Doe on LinkedIn: {name} just launched",
                f"https://www.linkedin.com/posts/jane-doe_{slug}-activity-1",
                f"Founder at {name}",
            ),
            result(f"{name} | LinkedIn", f"https://www.linkedin.com/company/{slug}"),
            result(
                f"Jane Doe - Founder - {name} Logistics Group | LinkedIn",
                "https://www.linkedin.com/in/jane-doe-logistics",
            ),
            result(
                f"Jane Doe - Co-founder - Auto{name.lower()} | LinkedIn",
                "https://www.linkedin.com/in/jane-doe-auto",
            ),
            result(
                f"Jane Doe - Founder's Associate - {name} | LinkedIn",
                "https://www.linkedin.com/in/jane-doe-assoc",
            ),
            result(
                f"Jane Doe - Ex-Founder - {name} | LinkedIn",
                "https://www.linkedin.com/in/jane-doe-ex",
            ),
            result(
                f"Jane Doe - Co-founder & CEO - {name} | LinkedIn",
                f"https://fr.linkedin.com/in/Jane-Doe-{slug}/?trk=people-guest",
                f"Co-founder & CEO at {name} (YC F25) · Experience: {name} · Location: SF",
            ),
        ]
        people = extract_people(results, name, website)
        assert [p.to_dict() for p in people] == [
            {
                "name": "Jane Doe",
                "title": "Co-founder & CEO",
                "linkedin_url": f"https://www.linkedin.com/in/jane-doe-{slug}",
                "source_url": f"https://fr.linkedin.com/in/Jane-Doe-{slug}/?trk=people-guest",
            }
        ], name


@pytest.mark.parametrize(
    ("name", "website", "query"),
    [
        (
            "Hyperspell",
            "https://hyperspell.com",
            'site:linkedin.com/in ("Hyperspell" OR "hyperspell.com") '
            "(founder OR co-founder OR CEO)",
        ),
        ("Hyperspell", None, 'site:linkedin.com/in "Hyperspell" (founder OR co-founder OR CEO)'),
        (
            "Lua Global Inc",
            "https://heylua.ai/",
            'site:linkedin.com/in ("Lua Global" OR "heylua.ai") (founder OR co-founder OR CEO)',
        ),
        (
            "Acme, Inc.",
            "not a website",
            'site:linkedin.com/in "Acme" (founder OR co-founder OR CEO)',
        ),
        (
            "s2.dev",
            "https://s2.dev",
            'site:linkedin.com/in "s2.dev" (founder OR co-founder OR CEO)',
        ),
        (
            'Acme" OR site:evil.io "x',
            None,
            'site:linkedin.com/in "Acme OR site:evil.io x" (founder OR co-founder OR CEO)',
        ),
        (
            "\u201cNorth\u201d Labs (YC W21)\n",
            None,
            'site:linkedin.com/in "North Labs" (founder OR co-founder OR CEO)',
        ),
        ("Inc", None, 'site:linkedin.com/in "Inc" (founder OR co-founder OR CEO)'),
    ],
)
def test_founder_search_query(name: str, website: str | None, query: str) -> None:
    assert founder_search_query(name, website) == query


@pytest.mark.parametrize("name", ["", '""', "  \n "])
def test_founder_search_query_refuses_an_empty_name(name: str) -> None:
    with pytest.raises(ValueError, match="empty"):
        founder_search_query(name, None)
