"""Founders of one company from its LinkedIn web-search results: the rule-based extractor.

The search node hands over results normalised to ``{"title", "url", "snippet"}``; this module
keeps the people whose result passes three gates, in result order:

1. the URL is a person's profile (``urls.canonical_profile_url``); posts are refused by title
   too (``Jane Doe on LinkedIn: ...``) because some engines show them under profile-like URLs;
2. the role is a founder's (``roles.founder_title``);
3. that founder role is tied to *this* company (``identity``): either a role stated together
   with a matching company (``Co-founder & CEO - Acme``, ``Founder at Acme``), or a role stated
   with no company plus a matching company elsewhere in the result (title ``Jane Doe - Acme``,
   snippet ``Co-founder & CEO``), provided no founder role in the result names a *different*
   company (``Founder at OtherCo`` with ``Experience: Acme`` is an employee of Acme who founded
   something else), and provided the title, when it names any company, names this one (the
   title is the profile's own headline; a snippet can quote other people: ``Recommended by
   Jane, Founder & CEO at Acme`` on an engineer's profile).

People are deduplicated by canonical profile URL and by folded name (one person found through
two profile spellings is still one founder), and at most ``limit`` are kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from lead_pipeline.founders.identity import CompanyIdentity, fold, website_host
from lead_pipeline.founders.parse import Claim, parse_result
from lead_pipeline.founders.roles import founder_title
from lead_pipeline.founders.urls import canonical_profile_url

DEFAULT_LIMIT = 5
_FIELDS = ("title", "url", "snippet")


@dataclass(frozen=True)
class Person:
    """One founder as written to the ``founders`` column."""

    name: str
    title: str
    linkedin_url: str
    source_url: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def extract_people(
    results: Iterable[Mapping[str, Any]],
    company_name: str,
    company_domain: str | None = None,
    *,
    limit: int = DEFAULT_LIMIT,
) -> list[Person]:
    """Founders of ``company_name`` found in ``results``, in result order, at most ``limit``.

    ``company_domain`` is the lead's website (URL or bare host) or ``None``. A result whose
    ``title``/``url``/``snippet`` is neither a string nor missing/``None`` raises ``ValueError``
    naming the result's position and the field: that is a bug in the search client, not data.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    company = CompanyIdentity.of(company_name, company_domain)
    people: list[Person] = []
    seen_urls: set[str] = set()
    seen_names: set[str] = set()
    for index, result in enumerate(results):
        title, url, snippet = _fields(index, result)
        profile = canonical_profile_url(url)
        if profile is None or profile in seen_urls:
            continue
        parsed = parse_result(title, snippet)
        if parsed.is_post or parsed.name is None:
            continue
        role = _founder_role(parsed.claims, company)
        if role is None:
            continue
        name_key = " ".join(fold(parsed.name).split())
        if name_key in seen_names:
            continue
        seen_urls.add(profile)
        seen_names.add(name_key)
        people.append(Person(parsed.name, role, profile, url.strip()))
        if len(people) >= limit:
            break
    return people


def _fields(index: int, result: Mapping[str, Any]) -> tuple[str, str, str]:
    if not isinstance(result, Mapping):
        raise ValueError(
            f"search result #{index}: expected a mapping with {', '.join(_FIELDS)}, "
            f"got {type(result).__name__}"
        )
    values = []
    for field in _FIELDS:
        value = result.get(field)
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise ValueError(
                f"search result #{index}: field {field!r} must be a string, "
                f"got {type(value).__name__}"
            )
        values.append(value)
    return values[0], values[1], values[2]


def _founder_role(claims: tuple[Claim, ...], company: CompanyIdentity) -> str | None:
    title_orgs = [claim.org for claim in claims if claim.source == "title" and claim.org]
    if title_orgs and not any(company.matches(org) for org in title_orgs):
        return None  # the title says where this person is, and it is somewhere else
    founder_claims = [(claim, founder_title(claim.role)) for claim in claims if claim.role]
    founder_claims = [(claim, title) for claim, title in founder_claims if title]
    for claim, title in founder_claims:
        if claim.org is not None and company.matches(claim.org):
            return title
    if any(claim.org is not None for claim, _ in founder_claims):
        return None  # the founder role is stated for another company
    unattached = [title for claim, title in founder_claims if claim.org is None]
    if not unattached:
        return None
    if any(claim.role is None and company.matches(claim.org) for claim in claims):
        return unattached[0]
    return None


_QUERY_UNSAFE = re.compile(r"[\"“”„«»\x00-\x1f\x7f]")
_LEGAL_TAIL = re.compile(
    r"[\s,]+(?:inc|incorporated|llc|l\.l\.c|ltd|limited|corp|corporation|gmbh|pbc|plc)\.?$",
    re.IGNORECASE,
)
_PARENTHESISED = re.compile(r"\([^)]*\)|\[[^\]]*\]")


def founder_search_query(company_name: str, website: str | None = None) -> str:
    """The web-search query the ``founder_linkedin`` search node sends by default.

    ``site:linkedin.com/in ("Acme" OR "acme.com") (founder OR co-founder OR CEO)``: the name is
    an exact phrase without quote characters (so it cannot close the phrase and inject
    operators), bracketed notes or a trailing legal form (profiles say "Acme", not
    "Acme, Inc."); the website's host, when known, is a second phrase.
    """
    if not isinstance(company_name, str):
        raise TypeError(f"company_name must be a string, got {type(company_name).__name__}")
    name = " ".join(_PARENTHESISED.sub(" ", _QUERY_UNSAFE.sub(" ", company_name)).split())
    stripped = name
    while True:
        shorter = _LEGAL_TAIL.sub("", stripped).strip()
        if shorter == stripped or not shorter:
            break
        stripped = shorter
    name = stripped.strip(" ,") or name
    if not name:
        raise ValueError(f"company name {company_name!r} is empty once quotes are removed")
    host = website_host(website)
    phrase = f'"{name}"'
    if host and host != name.lower():
        phrase = f'({phrase} OR "{host}")'
    return f"site:linkedin.com/in {phrase} (founder OR co-founder OR CEO)"
