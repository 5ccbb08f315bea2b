"""Read a LinkedIn search result's title and snippet as a name plus (role, company) claims.

Search engines show LinkedIn profiles in a few stable shapes::

    Jane Doe - Co-founder & CEO - Acme | LinkedIn      name - role - company
    Jane Doe - Acme | LinkedIn                          name - company (also with en dashes)
    John Smith - Founder at Acme AI - LinkedIn          name - role at company
    Jane Doe on LinkedIn: We just launched ...          a post, not a profile

and snippets such as ``Co-founder at Acme (YC F25) · Experience: Acme · Education: MIT``.

A claim keeps a role together with the company it was stated for, because the identity gate
must know *which* company someone founded, not merely that both words occur somewhere. Text
the engine cut off (ending in ``...``) is kept as a role but never as a company.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from lead_pipeline.founders.roles import is_role_text, words

_ELLIPSIS = re.compile(r"\s*(?:\.\.\.|…)\s*$")
_POST = re.compile(
    r"\bon linkedin\s*:|\bposted on linkedin\b|['\u2019]s post\b|\blinkedin\s+(?:learning|pulse)\b",
    re.IGNORECASE,
)
_TITLE_SEPARATOR = re.compile(r"\s+[-\u2013\u2014·]\s+|\s*\|\s*")
_LINKEDIN_TAIL = re.compile(r"^(?:l|li|lin|link|linke|linked|linkedi|linkedin)$", re.IGNORECASE)
_SNIPPET_SEPARATOR = re.compile(r"\s*[·•|\n]\s*|\s+[-\u2013\u2014]\s+")
_SENTENCE_END = re.compile(r"(?<=[A-Za-z0-9)])\.\s+(?=[A-Z])")
# Only abbreviations that continue a sentence; "Inc." usually ends one ("... at Acme Inc. We").
_ABBREVIATIONS = re.compile(r"\b(?:jr|sr|dr|st|mr|ms|mrs|prof|vs|[a-z])$", re.IGNORECASE)
_FIELD = re.compile(r"^(?P<label>[A-Za-z ]{2,20}):\s*(?P<value>.*)$")
_ORG_FIELDS = frozenset({"experience", "current", "current company", "company"})
_AT = re.compile(r"\s+at\s+|\s*@\s*", re.IGNORECASE)
_OF = re.compile(r"\s+of\s+", re.IGNORECASE)
_COMMA = re.compile(r",\s+")
_NOT_BEFORE_OF = re.compile(r"\b(?:chief|head|office|vp|vice president|director)$", re.IGNORECASE)
_ORG_END = re.compile(
    r",\s+(?!(?:inc|llc|ltd|corp|co|gmbh|pbc)\b)|;|:\s|\s+[-\u2013\u2014|·•]\s+"
    r"|\s+(?:and|&)\s+(?=ex\b|ex-|former)|\s+(?:ex-|formerly\b|previously\b|prev\b)",
    re.IGNORECASE,
)
_NAME_NOISE = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_CREDENTIAL = re.compile(r"^[A-Za-z.\s]{1,10}$")
_MAX_NAME_WORDS = 6
# Words no name contains; wider role words ("Head", "Lead", "Chief") are also surnames.
_NOT_NAME_WORDS = frozenset({"founder", "cofounder", "ceo", "cto", "coo", "cfo", "linkedin"})
_OPEN_END = re.compile(r"(?:\s[-\u2013\u2014·]|\|)\s*$")


@dataclass(frozen=True)
class Claim:
    """A role, a company, or a role stated for a company; ``None`` where the text gives none."""

    role: str | None
    org: str | None
    source: str  # "title" or "snippet"


@dataclass(frozen=True)
class ParsedResult:
    name: str | None
    claims: tuple[Claim, ...]
    is_post: bool


def parse_result(title: str, snippet: str) -> ParsedResult:
    """Split one search result into the person's name and what it says they do, and where."""
    title = " ".join((title or "").split())
    if _POST.search(title):
        return ParsedResult(name=None, claims=(), is_post=True)
    parts, last_cut = _title_parts(title)
    if not parts:
        return ParsedResult(name=None, claims=(), is_post=False)
    name = clean_name(parts[0])
    claims = _title_claims(parts[1:], last_cut) + _snippet_claims(snippet or "")
    return ParsedResult(name=name, claims=tuple(claims), is_post=False)


def _title_parts(title: str) -> tuple[list[str], bool]:
    """The title's parts without the trailing ``LinkedIn``; flag a cut-off last part."""
    cut = bool(_ELLIPSIS.search(title))
    title = _ELLIPSIS.sub("", title)
    if _OPEN_END.search(title):
        cut = False  # cut right after a separator: the part before it is whole
    parts = [p.strip() for p in _TITLE_SEPARATOR.split(title) if p.strip()]
    if len(parts) > 1 and parts[-1].lower() == "linkedin":
        parts.pop()
        cut = False
    elif len(parts) > 1 and cut and _LINKEDIN_TAIL.match(parts[-1]):
        parts.pop()  # "... - Acme | Linked..." cut inside the suffix: Acme itself is whole
        cut = False
    elif parts and parts[-1].lower().endswith(" linkedin"):
        parts[-1] = parts[-1][: -len(" linkedin")].strip()
    return parts, cut


def _title_claims(parts: list[str], last_cut: bool) -> list[Claim]:
    claims: list[Claim] = []
    pending_role: str | None = None
    for index, part in enumerate(parts):
        cut = last_cut and index == len(parts) - 1
        pair = split_role_at_org(part)
        if pair is not None:
            role, org = pair
            claims.append(Claim(role, None if cut else org, "title"))
        elif is_role_text(part):
            if pending_role is not None:
                claims.append(Claim(pending_role, None, "title"))
            pending_role = part
        elif pending_role is not None:
            claims.append(Claim(pending_role, None if cut else part, "title"))
            pending_role = None
        elif not cut:
            claims.append(Claim(None, part, "title"))
    if pending_role is not None:
        claims.append(Claim(pending_role, None, "title"))
    return claims


def _snippet_claims(snippet: str) -> list[Claim]:
    claims: list[Claim] = []
    for segment in _snippet_segments(snippet):
        cut = bool(_ELLIPSIS.search(segment))
        segment = _ELLIPSIS.sub("", segment).strip(" .")
        if not segment:
            continue
        field = _FIELD.match(segment)
        if field:
            label = field.group("label").strip().lower()
            value = field.group("value").strip()
            if label in _ORG_FIELDS and value and not cut:
                claims.append(Claim(None, value, "snippet"))
            continue
        pair = split_role_at_org(segment)
        if pair is not None:
            role, org = pair
            claims.append(Claim(role, None if cut else org, "snippet"))
        elif is_role_text(segment):
            claims.append(Claim(segment, None, "snippet"))
    return claims


def _snippet_segments(snippet: str) -> list[str]:
    segments: list[str] = []
    for chunk in _SNIPPET_SEPARATOR.split(" ".join(snippet.replace("\n", " · ").split())):
        sentences: list[str] = []
        for piece in _SENTENCE_END.split(chunk):
            if sentences and _ABBREVIATIONS.search(sentences[-1]):
                sentences[-1] = f"{sentences[-1]}. {piece}"
            else:
                sentences.append(piece)
        segments.extend(s.strip() for s in sentences if s.strip())
    return segments


def split_role_at_org(text: str) -> tuple[str, str] | None:
    """``Founder at Acme`` / ``CEO @ Acme`` / ``Co-founder of Acme`` / ``CEO, Acme`` -> parts.

    ``None`` when the text is not a job title followed by a company.
    """
    for pattern in (_AT, _OF, _COMMA):
        for match in pattern.finditer(text):
            role, org = text[: match.start()].strip(), text[match.end() :].strip()
            if not role or not org or not is_role_text(role):
                continue
            if pattern is _OF and _NOT_BEFORE_OF.search(role):
                continue
            if pattern is _COMMA and is_role_text(org):
                continue
            org = _ORG_END.split(org, maxsplit=1)[0].strip(" .,;:")
            if org:
                return role, org
    return None


def clean_name(text: str) -> str | None:
    """A person's name from the first part of a title, or ``None`` if it is not one.

    Drops pronoun and other bracketed notes (``(She/Her)``), emoji and trailing credentials
    (``, PhD``); refuses text that names a founder role, mentions LinkedIn, or is too long to be
    a name.
    """
    text = _NAME_NOISE.sub(" ", text)
    kept = []
    for ch in text:
        category = unicodedata.category(ch)
        if category[0] in "LM" or ch in " -'\u2019.,":
            kept.append(ch)
        else:
            kept.append(" ")
    name = " ".join("".join(kept).split())
    pieces = [p.strip() for p in name.split(",")]
    if len(pieces) > 1 and all(_CREDENTIAL.match(p) for p in pieces[1:] if p):
        name = pieces[0]
    name = name.strip(" -.,'\u2019")
    if not any(ch.isalpha() for ch in name) or len(name) > 80:
        return None
    if len(name.split()) > _MAX_NAME_WORDS or not _NOT_NAME_WORDS.isdisjoint(words(name)):
        return None
    return name
