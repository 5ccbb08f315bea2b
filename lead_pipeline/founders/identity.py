"""The identity gate: does the company named in a search result mean *this* company?

A ``site:linkedin.com/in "Pilot"`` search returns the founders of Pilot next to the founders of
Autopilot Labs, Pilot AI and a dozen unrelated Pilots. Writing one of them into a lead's
``founders`` is worse than writing nobody, so the gate is deliberately strict: a result's
company text (the company part of a LinkedIn title, or the ``at <company>`` of a role, or the
snippet's ``Experience:`` field; see ``parse.py``) is compared with the lead's company *as a
whole*, never searched for a substring.

Rule, applied to one piece of company text:

1. **Website.** If the text contains a domain (``Pilot.com``, ``agent.nexus``) and the lead has a
   website, the text matches when that domain is on the same site (same registrable domain on
   the Public Suffix List, ``www.`` and other subdomains ignored; each tenant of a shared host
   such as ``acme.vercel.app`` or ``acme.github.io`` is a site of its own) and nothing else is
   left once it is removed but legal forms, brand suffixes and notes in brackets, or what is
   left matches by name (rule 2):
   ``pilot.com, Inc.`` and ``Pilot (pilot.com)`` match, ``pilot.com Logistics`` does not.
   A text naming a *different* website is refused even if the name agrees: ``Specific.dev`` is
   not ``withspecific.com``'s Specific.
2. **Name.** Otherwise both names are normalised: accents, case and punctuation folded, ``&``
   read as ``and``, apostrophes dropped, parenthesised notes (``(YC F25)``) removed, a leading
   ``The`` dropped, trailing legal forms (Inc, LLC, Ltd, Corp, GmbH, ...) dropped, a bare
   domain reduced to its name (``Automax.ai`` -> ``automax``), words joined (so
   ``AtlasGrid`` == ``Atlas Grid``). The texts match only if the results are *equal*.

   - For a distinctive company (the name without brand suffixes has 5 or more characters)
     trailing brand suffixes (AI, Labs, Lab, HQ, App, IO, Tech, Technologies, Software, Systems)
     are ignored on both sides: ``Hyperspell`` == ``Hyperspell AI`` == ``Hyperspell Labs, Inc.``.
   - For a short company name (``Bolt``, ``Mesa``, ``Mod AI``, ``Null Labs``: 4 or fewer
     characters once brand suffixes are removed) brand suffixes are significant: ``Bolt`` matches
     ``Bolt`` and ``Bolt, Inc.`` but not ``Bolt AI``; ``Mod AI`` matches ``ModAI`` but not ``Mod``.
   - Never by containment: ``Acme`` does not match ``Acme Corp Logistics`` nor ``Acme Robotics``,
     ``Pilot`` does not match ``Autopilot``, and ``Kaigo Health`` does not match ``Kaigo``. A
     missed founder is cheaper than a wrong one.
3. **Website as a name.** The lead's registrable domain spelled out is one more accepted name
   (``Nori AI`` or ``NoriAI`` for nori.ai, even though ``Nori`` is short), and so is its first
   label when that has 6 or more characters (``Goldbridge Banking`` for goldbridgebanking.com,
   ``UseProx`` for useprox.com); shorter labels (``agent`` of agent.nexus) are too generic.

Text that ends in an ellipsis was cut off by the search engine and never matches: ``Acme ...``
may have been ``Acme Corp Logistics``.

Known limit: two different companies with the same name and no website in the result (the YC
Fall 2025 batch has two "Specific"s) cannot be told apart from a LinkedIn title alone.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from lead_pipeline.domains import host_of, registrable_domain, site_name

_LEGAL_SUFFIXES = frozenset(
    {
        "inc",
        "incorporated",
        "llc",
        "llp",
        "lp",
        "ltd",
        "limited",
        "corp",
        "corporation",
        "co",
        "gmbh",
        "ag",
        "sa",
        "sas",
        "sarl",
        "srl",
        "spa",
        "bv",
        "nv",
        "plc",
        "pbc",
        "pty",
        "pte",
        "oy",
        "ab",
        "kk",
        "and",  # left behind by "& Co."
    }
)
_BRAND_SUFFIXES = frozenset(
    {"ai", "labs", "lab", "hq", "app", "io", "tech", "technologies", "software", "systems"}
)
_SUFFIX_WORDS = _LEGAL_SUFFIXES | _BRAND_SUFFIXES | {"the"}
SHORT_NAME_MAX = 4
_DOMAIN_LABEL_MIN = 6

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"(?<![\w.-])((?:{_LABEL}\.)+[a-z]{{2,24}})(?![\w-]|\.\w)", re.IGNORECASE)
_PARENTHESISED = re.compile(r"\([^)]*\)|\[[^\]]*\]|\([^)]*$|\[[^\]]*$")
_LLC = re.compile(r"\bl\.l\.c\b\.?", re.IGNORECASE)
_APOSTROPHES = re.compile(r"['\u2019`]")
_WORDS = re.compile(r"[^\W_]+")
_ELLIPSIS = re.compile(r"(?:\.\.\.|…)\s*$")


def fold(text: str) -> str:
    """Case- and accent-insensitive form of ``text`` (``Zoë`` -> ``zoe``)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def website_host(website: str | None) -> str | None:
    """Host of a lead's website without ``www.`` (``https://www.Pilot.com/x`` -> ``pilot.com``).

    Lead data is messy, so anything that does not look like a host gives ``None`` rather than
    an error: a missing website only removes one way of matching.
    """
    host = host_of(website)
    if host is None or not _DOMAIN.fullmatch(host):
        return None
    return host


def name_tokens(text: str) -> list[str]:
    """Words of a company name after normalisation (rule 2 of the module docstring)."""
    text = fold(text)
    text = _PARENTHESISED.sub(" ", text)
    text = _LLC.sub(" llc ", text)
    text = _DOMAIN.sub(lambda m: f" {site_name(m.group(1))} ", text)
    text = text.replace("&", " and ")
    text = _APOSTROPHES.sub("", text)
    tokens = _WORDS.findall(text)
    if len(tokens) > 1 and tokens[0] == "the":
        tokens = tokens[1:]
    while len(tokens) > 1 and tokens[-1] in _LEGAL_SUFFIXES:
        tokens.pop()
    return tokens


def _without_brand_suffixes(tokens: list[str]) -> list[str]:
    tokens = list(tokens)
    while len(tokens) > 1 and tokens[-1] in _BRAND_SUFFIXES:
        tokens.pop()
    return tokens


@dataclass(frozen=True)
class CompanyIdentity:
    """One lead's company, prepared once and compared against many pieces of result text."""

    name: str
    host: str | None
    keys: frozenset[str]
    short: bool

    @classmethod
    def of(cls, company_name: str, company_domain: str | None = None) -> CompanyIdentity:
        """Build the identity; ``company_domain`` may be a bare host or a full website URL."""
        return _identity(company_name, company_domain)

    def matches(self, text: str | None) -> bool:
        """True when ``text`` (a result's company part) names this company."""
        if not text or not text.strip() or _ELLIPSIS.search(text):
            return False
        folded = fold(text)
        domains = [m.group(1) for m in _DOMAIN.finditer(folded)]
        if self.host and domains:
            site = registrable_domain(self.host)
            if any(registrable_domain(domain) != site for domain in domains):
                return False
            rest = _DOMAIN.sub(" ", _PARENTHESISED.sub(" ", folded))
            if _SUFFIX_WORDS.issuperset(_WORDS.findall(rest)):
                return True  # the website alone ("Pilot.com", "www.pilot.com, Inc.")
            return self._name_matches(rest)  # "Pilot (pilot.com)"; not "pilot.com Logistics"
        return self._name_matches(text)

    def _name_matches(self, text: str) -> bool:
        tokens = name_tokens(text)
        if not tokens:
            return False
        candidates = {"".join(tokens)}
        if not self.short:
            candidates.add("".join(_without_brand_suffixes(tokens)))
        return not candidates.isdisjoint(self.keys)


@lru_cache(maxsize=1024)
def _identity(company_name: str, company_domain: str | None) -> CompanyIdentity:
    if not isinstance(company_name, str):
        raise TypeError(f"company_name must be a string, got {type(company_name).__name__}")
    tokens = name_tokens(company_name)
    if not tokens:
        raise ValueError(f"company name {company_name!r} has no letters or digits to match on")
    core = "".join(_without_brand_suffixes(tokens))
    short = len(core) <= SHORT_NAME_MAX
    keys = {"".join(tokens) if short else core}
    host = website_host(company_domain)
    if host:
        site = registrable_domain(host)
        label = site.split(".")[0]
        if len(label) >= _DOMAIN_LABEL_MIN:
            keys.add(label)
        keys.add(site.replace(".", ""))  # "Nori AI" is nori.ai spelled out
    return CompanyIdentity(name=company_name, host=host, keys=frozenset(keys), short=short)


def company_matches(text: str | None, company_name: str, company_domain: str | None = None) -> bool:
    """True when ``text`` (the company part of a search result) names this company.

    ``company_domain`` may be a host (``pilot.com``) or the lead's website URL.
    """
    return CompanyIdentity.of(company_name, company_domain).matches(text)
