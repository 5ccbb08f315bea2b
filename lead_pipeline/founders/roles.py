"""Which job titles make someone a *founder* for the ``founders`` column.

The column promises founders, so the accepted set is narrow:

- founder, co-founder, cofounder, co founder (any case or hyphen), e.g. ``Founder & CEO``,
  ``Co-Founder/CTO``, ``Serial founder``;
- CEO / Chief Executive Officer on its own: at the start-ups this pipeline enriches the CEO is
  almost always a founder, and the search asks for CEOs;
- CTO, COO, CPO, other *Chief ... Officer*s and President count only through a founder word in
  the same title (``Co-founder & CTO``), never alone;
- owner, managing director and president on their own are refused: ``Product Owner`` and
  ``Vice President`` are employees.

Refused even with a founder word: anything past or temporary (``Former``/``Ex-``/``Previously``/
``Past``/``Retired``/``Interim``/``Acting``/``Aspiring``), and titles where the word describes
someone else (``Founder's Associate``, ``Founder in Residence``, ``Assistant to the CEO``,
``Chief of Staff to the CEO``, ``Office of the CEO``, ``Founder Relations``, ``CEO Coach``,
``hired by the CEO``, ``our founder``, ``my co-founder``).
``Founding Engineer`` and ``Founding Partner`` carry no founder word and are refused;
``Founding CEO`` is accepted through ``CEO``. The plural ``founders`` is never a title
(``Partner at Founders Fund``).
"""

from __future__ import annotations

import re

_HYPHENS = r"\-\u2010\u2011\u2013\u2014"
_COFOUNDER = re.compile(rf"\bco[\s{_HYPHENS}]?founder\b", re.IGNORECASE)
_CHIEF_EXECUTIVE = re.compile(r"\bchief\s+executive\s+officer\b", re.IGNORECASE)
_WORD = re.compile(r"[a-z0-9]+")

_FOUNDER_WORDS = frozenset({"founder", "cofounder"})
_CEO_WORDS = frozenset({"ceo"})
_NEGATORS = frozenset(
    {
        "ex",
        "former",
        "formerly",
        "past",
        "previously",
        "prior",
        "prev",
        "retired",
        "interim",
        "acting",
        "aspiring",
        "future",
        "wannabe",
        "to",
        "for",
        "of",
        "associate",
        "assistant",
        # someone else's: "hired by the CEO", "worked with our founder", "my co-founder"
        "by",
        "with",
        "under",
        "my",
        "our",
        "your",
        "his",
        "her",
        "their",
        "its",
    }
)
_FILLERS = frozenset({"the", "a", "an"})
_FOLLOWERS = frozenset(
    {
        "associate",
        "associates",
        "assistant",
        "in",
        "relations",
        "success",
        "coach",
        "coaching",
        "advisor",
        "program",
        "programs",
        "office",
        "mode",
        "community",
        "experience",
        "network",
        "support",
        "s",  # the "s" of "founder's" once the apostrophe is split off
    }
)

# Words that make a piece of text a job title rather than a company name when a LinkedIn title
# is split into its parts ("Jane Doe - Software Engineer - Acme").
ROLE_WORDS = frozenset(
    {
        "founder",
        "cofounder",
        "founding",
        "ceo",
        "cto",
        "coo",
        "cfo",
        "cpo",
        "cmo",
        "cro",
        "ciso",
        "chief",
        "officer",
        "president",
        "vp",
        "svp",
        "evp",
        "director",
        "head",
        "manager",
        "engineer",
        "developer",
        "partner",
        "owner",
        "lead",
        "advisor",
        "investor",
        "consultant",
        "designer",
        "scientist",
        "researcher",
        "student",
        "intern",
        "analyst",
        "associate",
        "chairman",
        "chair",
        "principal",
        "architect",
        "recruiter",
        "professor",
        "entrepreneur",
        "builder",
        "operator",
        "member",
    }
)


def words(text: str) -> list[str]:
    """Lowercase words of a role text, with every spelling of co-founder as ``cofounder``."""
    text = _COFOUNDER.sub(" cofounder ", text)
    text = _CHIEF_EXECUTIVE.sub(" ceo ", text)
    return _WORD.findall(text.lower())


def is_role_text(text: str) -> bool:
    """True when ``text`` reads as a job title (any job, not only a founder's)."""
    return not ROLE_WORDS.isdisjoint(words(text))


def founder_title(text: str | None) -> str | None:
    """The title to report if ``text`` makes its holder a founder, else ``None``.

    The returned title is ``text`` from its first founder/CEO word on, tidied
    (``Jane is the co-founder and CEO`` -> ``co-founder and CEO``).
    """
    if not text:
        return None
    tokens = words(text)
    if not tokens or tokens[0] in _NEGATORS - {"to", "for", "of", "associate", "assistant"}:
        return None
    accepted = False
    for index, token in enumerate(tokens):
        if token not in _FOUNDER_WORDS and token not in _CEO_WORDS:
            continue
        if _blocked(tokens, index):
            return None
        accepted = True
    if not accepted:
        return None
    return _tidy_title(text)


def _blocked(tokens: list[str], index: int) -> bool:
    before = [t for t in tokens[:index] if t not in _FILLERS]
    if before and before[-1] in _NEGATORS:
        return True
    after = tokens[index + 1 : index + 2]
    if after and after[0] in _FOLLOWERS:
        return not (after[0] == "in" and tokens[index + 2 : index + 3] != ["residence"])
    return False


_TITLE_START = re.compile(
    rf"co[\s{_HYPHENS}]?founder|founder|chief\s+executive\s+officer|\bceo\b", re.IGNORECASE
)
_TITLE_PREFIX = re.compile(
    r"\b(?:serial|solo|technical|founding|proud|president|chairman|chair|cto|coo|cpo|cfo|cmo|ceo)"
    r"\s*(?:[&/,+]|and)?\s*$",
    re.IGNORECASE,
)


def _tidy_title(text: str) -> str:
    match = _TITLE_START.search(text)
    start = match.start() if match else 0
    # Keep a leading qualifier or second role that belongs to the title ("CTO & Co-founder").
    prefix = _TITLE_PREFIX.search(text[:start])
    if prefix:
        start = prefix.start()
    title = " ".join(text[start:].split())
    return title.strip(" ,;:-\u2013\u2014|·").strip()[:120] or " ".join(text.split())
