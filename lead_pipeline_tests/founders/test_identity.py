"""The identity gate: a result's company text must name this company as a whole."""

from __future__ import annotations

import pytest

from lead_pipeline.founders import CompanyIdentity, company_matches
from lead_pipeline.founders.identity import name_tokens, registrable_domain, website_host


@pytest.mark.parametrize(
    ("company", "website", "text"),
    [
        ("Hyperspell", "https://hyperspell.com", "Hyperspell"),
        ("Hyperspell", "https://hyperspell.com", "HYPERSPELL"),
        ("Hyperspell", "https://hyperspell.com", "Hyperspell, Inc."),
        ("Hyperspell", "https://hyperspell.com", "Hyperspell AI"),
        ("Hyperspell", "https://hyperspell.com", "Hyperspell Labs Inc"),
        ("Hyperspell", "https://hyperspell.com", "Hyperspell (YC F25)"),
        ("Hyperspell", "https://hyperspell.com", "hyperspell.com"),
        ("Hyperspell", "https://hyperspell.com", "www.hyperspell.com"),
        ("Hyperspell", "https://hyperspell.com", "app.hyperspell.com"),
        ("Hyperspell", None, "Hyperspell.ai"),
        ("Hyperspell", "https://hyperspell.com", "hyperspell.com, Inc."),
        ("Hyperspell", "https://hyperspell.com", "Hyperspell (hyperspell.com)"),
        ("Pilot", "https://pilot.com", "Pilot.com"),
        ("Pilot", "https://www.pilot.com/", "The pilot.com Labs"),
        ("Hyperspell", None, "Hyper Spell"),
        ("AtlasGrid", "https://atlasgrid.ai", "Atlas Grid"),
        ("Deeptrace", "https://deeptrace.com/", "DeepTrace Technologies"),
        ("Bolna AI", "https://bolna.ai", "Bolna"),
        ("Bolna AI", "https://bolna.ai", "Bolna AI"),
        ("Kestrel AI", "https://usekestrel.ai/", "Kestrel"),
        ("Lua Global Inc", "https://heylua.ai/", "Lua Global"),
        ("Lua Global Inc", "https://heylua.ai/", "Lua Global, LLC"),
        ("Lua Global Inc", "https://heylua.ai/", "HeyLua"),
        ("Lua Global Inc", "https://heylua.ai/", "heylua.ai"),
        ("Goldbridge", "https://www.goldbridgebanking.com/", "Goldbridge Banking"),
        ("Prox", "https://useprox.com", "UseProx"),
        ("The Context Company", "https://thecontext.company", "Context Company"),
        ("The Context Company", "https://thecontext.company", "The Context Company"),
        ("The Context Company", "https://thecontext.company", "thecontext.company"),
        ("Expected Parrot", "https://www.expectedparrot.com", "Expected Parrot, Inc."),
        ("Automax.ai", "https://automax.ai", "Automax.ai"),
        ("Automax.ai", "https://automax.ai", "Automax"),
        ("Automax.ai", None, "Automax AI"),
        ("dari.dev", "https://dari.dev", "Dari"),
        ("dari.dev", "https://dari.dev", "dari.dev"),
        ("s2.dev", "https://s2.dev", "S2"),
        ("Nexus", "https://agent.nexus", "Nexus"),
        ("Nexus", "https://agent.nexus", "agent.nexus"),
        ("Kaigo Health", "https://www.kaigohealth.ai/", "Kaigo Health"),
        ("Kaigo Health", "https://www.kaigohealth.ai/", "KaigoHealth"),
        ("Zoë Labs", None, "Zoe Labs"),
        ("Smith & Co", None, "Smith"),
        ("Smith & Co", None, "Smith and Co."),
        # short names: exact, brand suffixes significant
        ("Nori", "https://nori.ai", "Nori"),
        ("Nori", "https://nori.ai", "Nori, Inc."),
        ("Nori", "https://nori.ai", "Nori AI"),  # nori.ai spelled out
        ("Nori", "https://nori.ai", "nori.ai"),
        ("Mod AI", "https://usemod.ai", "Mod AI"),
        ("Mod AI", "https://usemod.ai", "ModAI"),
        ("Mod AI", "https://usemod.ai", "UseMod"),
        ("Null Labs", "https://n0labs.com", "Null Labs"),
        ("The Hog", "https://thehog.ai/", "The Hog"),
        ("item", "https://item.app", "Item"),
        ("item", "https://item.app", "item.app"),
        ("Bolt", None, "Bolt"),
        ("Bolt", None, "BOLT, Inc."),
    ],
)
def test_the_same_company_spelled_differently_matches(
    company: str, website: str | None, text: str
) -> None:
    assert company_matches(text, company, website)


@pytest.mark.parametrize(
    ("company", "website", "text"),
    [
        # longer names are never found by containment
        ("Acme", None, "Acme Corp Logistics"),
        ("Hyperspell", "https://hyperspell.com", "Hyperspell Ventures"),
        ("Hyperspell", "https://hyperspell.com", "Hyperspelling"),
        ("Deeptrace", "https://deeptrace.com/", "Deeptrace Capital Partners"),
        ("Kaigo Health", "https://www.kaigohealth.ai/", "Kaigo"),
        ("Expected Parrot", "https://www.expectedparrot.com", "Parrot"),
        ("Parrot", "https://parrotapp.com/", "Expected Parrot"),
        ("Autonomous Technologies Group", "https://becomeautonomous.com/", "Autonomous"),
        ("Lua Global Inc", "https://heylua.ai/", "Lua"),
        ("Pilot", "https://pilot.com", "Autopilot Labs"),
        ("Pilot", "https://pilot.com", "Autopilot"),
        ("Pilot", "https://pilot.com", "Pilot Fish Media"),
        # short names: no brand-suffix leeway
        ("Bolt", None, "Bolt AI"),
        ("Bolt", None, "Bolt Labs"),
        ("Bolt", None, "Bolt Financial"),
        ("Mesa", None, "Mesa Labs"),
        ("Mesa", None, "Mesa Verde Capital"),
        ("Mod AI", "https://usemod.ai", "Mod"),
        ("Mod AI", "https://usemod.ai", "Mod Labs"),
        ("Null Labs", "https://n0labs.com", "Null"),
        ("Nori", "https://nori.ai", "Nori Labs"),
        ("item", "https://item.app", "Item Health"),
        # a different website is a different company, whatever the name says
        ("Specific", "https://withspecific.com", "Specific.dev"),
        ("Specific", "https://specific.dev", "withspecific.com"),
        ("Pilot", "https://pilot.com", "Pilot.ai"),
        ("Pilot", "https://pilot.com", "pilot.com.evil.io"),
        ("Pilot", "https://pilot.com", "autopilot.com"),
        ("Pilot", "https://pilot.com", "pilot.com Logistics"),
        ("Pilot", "https://pilot.com", "Autopilot (pilot.com)"),
        ("dari.dev", "https://dari.dev", "dari.dev Logistics Group"),
        ("Hyperspell", "https://hyperspell.com", "Hyperspell, hyperspell.ai"),
        ("Nexus", "https://agent.nexus", "Agent"),  # "agent" is too generic to stand for the site
        # cut off by the search engine: "Hyperspell ..." may have been anything
        ("Hyperspell", "https://hyperspell.com", "Hyperspell ..."),
        ("Hyperspell", "https://hyperspell.com", "Hyperspell…"),
        ("Hyperspell", "https://hyperspell.com", ""),
        ("Hyperspell", "https://hyperspell.com", "   "),
        ("Hyperspell", "https://hyperspell.com", None),
        ("Hyperspell", "https://hyperspell.com", "(YC F25)"),
    ],
)
def test_other_companies_do_not_match(company: str, website: str | None, text: str) -> None:
    assert not company_matches(text, company, website)


def test_the_website_decides_between_two_companies_with_one_name() -> None:
    # YC Fall 2025 has two companies called Specific.
    assert company_matches("Specific.dev", "Specific", "https://specific.dev")
    assert not company_matches("Specific.dev", "Specific", "https://withspecific.com")
    # With no website in the text, the name alone cannot tell them apart (documented limit).
    assert company_matches("Specific", "Specific", "https://specific.dev")
    assert company_matches("Specific", "Specific", "https://withspecific.com")


def test_without_a_website_a_domain_in_the_text_is_read_as_its_name() -> None:
    assert company_matches("Pilot.com", "Pilot", None)
    assert not company_matches("Autopilot.com", "Pilot", None)


def test_short_is_judged_without_brand_suffixes() -> None:
    assert CompanyIdentity.of("Mod AI").short
    assert CompanyIdentity.of("Bolt").short
    assert not CompanyIdentity.of("Bolna AI").short
    assert not CompanyIdentity.of("Pilot").short


def test_a_company_name_without_letters_or_digits_is_an_error() -> None:
    with pytest.raises(ValueError, match="no letters or digits"):
        CompanyIdentity.of(" -- ")
    with pytest.raises(TypeError, match="company_name must be a string"):
        CompanyIdentity.of(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("website", "host"),
    [
        ("https://www.Pilot.com/about?x=1", "pilot.com"),
        ("pilot.com", "pilot.com"),
        ("www.pilot.com", "pilot.com"),
        ("http://agent.nexus", "agent.nexus"),
        ("https://www.codyco.ai/en", "codyco.ai"),
        ("https://lakonia.us.com", "lakonia.us.com"),
        ("n/a", None),
        ("", None),
        (None, None),
        ("https://", None),
        ("https://localhost", None),
    ],
)
def test_website_host(website: str | None, host: str | None) -> None:
    assert website_host(website) == host


@pytest.mark.parametrize(
    ("host", "site"),
    [
        ("pilot.com", "pilot.com"),
        ("app.pilot.com", "pilot.com"),
        ("acme.co.uk", "acme.co.uk"),
        ("www.acme.co.uk", "acme.co.uk"),
        ("shop.acme.com.au", "acme.com.au"),
        ("lakonia.us.com", "lakonia.us.com"),
        ("pilot.com.evil.io", "evil.io"),
    ],
)
def test_registrable_domain(host: str, site: str) -> None:
    assert registrable_domain(host) == site


def test_name_tokens_fold_case_accents_punctuation_and_legal_forms() -> None:
    assert name_tokens("The Zoë & Co. Labs, L.L.C. (YC F25)") == ["zoe", "and", "co", "labs"]
    assert name_tokens("O'Reilly Media, Inc.") == ["oreilly", "media"]
    assert name_tokens("Automax.ai") == ["automax"]
    assert name_tokens("The") == ["the"]
