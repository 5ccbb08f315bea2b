"""Is an answer supported by its evidence? The rules every ``research`` answer passes before
it is stored.

A model asked to cite its source will cite one, whether or not the page says what it
claims. So an answer is kept only when:

1. it names one of the pages the node fetched (``url``), compared as a page address: scheme
   and host case, a leading ``www.``, a default port, the fragment and a trailing ``/`` of
   the path do not count;
2. its ``quote`` occurs in the text fetched from that page, both read after
   :func:`normalise`: Unicode NFKC (full-width letters, ligatures, no-break spaces become
   plain ones), typographic quotes and apostrophes become ``"`` and ``'``, every dash and
   minus sign becomes ``-``, the ellipsis becomes ``...``, whitespace runs become one
   space, and case is folded (``casefold``). Quote marks around the whole quote are
   dropped. The quote is one contiguous passage of at least two words and
   :data:`MIN_QUOTE_CHARS` characters, and at most :data:`MAX_QUOTE_CHARS`: a quote of
   one word, or of the whole page, proves nothing;
3. every number, date and currency amount in the answer appears in that quote. Numbers are
   compared by value (``1,200`` is ``1200``, ``50k`` is ``50000``); a range in the answer
   (``11-50``, ``11 to 50``, ``1000+``) is supported by both its ends or by one number of
   the quote inside it (a page saying "a team of 30" supports ``11-50``); an ISO date
   (``2019-03-01``) by its year, month (number or name) and day; a month named next to a
   number (``May 2019``) must be named in the quote; a currency sign or code (``$``,
   ``€``, ``USD``) must be in the quote as a sign or code of the same currency.

A field that fails keeps no value: the reason says which rule failed, for example
``unsupported: quote not found on https://acme.com/about``. An answer of ``null`` ("the
pages do not say") needs no evidence. The checks are on text only; nothing here fetches.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

MIN_QUOTE_CHARS = 8
MAX_QUOTE_CHARS = 600
UNSUPPORTED = "unsupported"

# Characters NFKC leaves alone that a page and a model's copy of it spell differently.
_TRANSLATE = str.maketrans(
    {
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u02bc\u0060\u00b4", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb\u2039\u203a", '"'),
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d", "-"),
        "\u2026": "...",
        "\u00ad": None,  # a soft hyphen is invisible on the page
        "\u200b": None,  # so are zero-width spaces and joiners
        "\u200c": None,
        "\u200d": None,
        "\u2060": None,
        "\ufeff": None,
    }
)
_SPACE = re.compile(r"\s+")
_QUOTE_MARKS = "\"' "

# A number: digits with optional thousands commas and decimals, and an optional scale word.
_NUMBER = re.compile(
    r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?"
    r"(?:\s?(k|m|bn|b|thousand|million|billion))?(?![\w])"
)
_SCALE = {
    "k": 1_000,
    "thousand": 1_000,
    "m": 1_000_000,
    "million": 1_000_000,
    "b": 1_000_000_000,
    "bn": 1_000_000_000,
    "billion": 1_000_000_000,
}
_NUM = r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?:\s?(?:k|m|bn|b|thousand|million|billion))?(?![\w])"
_RANGE = re.compile(rf"({_NUM})\s*(?:-|to)\s*({_NUM})")
_OPEN_RANGE = re.compile(rf"({_NUM})\s*\+")
_ISO_DATE = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")
_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_MONTH_ABBR = {m[:3]: i + 1 for i, m in enumerate(_MONTHS)} | {"sept": 9}
_MONTH_WORD = "|".join(sorted({*_MONTHS, *_MONTH_ABBR}, key=len, reverse=True))
_MONTH_NEAR_NUMBER = re.compile(
    rf"\b({_MONTH_WORD})\.?\s+\d|\d(?:st|nd|rd|th)?\s+({_MONTH_WORD})\b"
)
_CURRENCIES = {
    "usd": ("$", "usd", "us$", "dollar"),
    "eur": ("€", "eur", "euro"),
    "gbp": ("£", "gbp", "pound"),
    "jpy": ("¥", "jpy", "yen"),
    "inr": ("₹", "inr", "rupee"),
    "chf": ("chf",),
    "cad": ("cad", "ca$"),
    "aud": ("aud", "a$"),
}
_CURRENCY_MARK = re.compile(r"[$€£¥₹]|\b(?:usd|eur|gbp|jpy|inr|chf|cad|aud)\b")


def normalise(text: str) -> str:
    """``text`` as quotes are compared: NFKC, typographic marks mapped, whitespace collapsed,
    case folded (see the module's rules)."""
    text = unicodedata.normalize("NFKC", text).translate(_TRANSLATE)
    return _SPACE.sub(" ", text).strip().casefold()


def page_key(url: str) -> str:
    """A page's address as answers are matched to pages: ``HTTPS://www.Acme.com:443/about/#x``
    and ``https://acme.com/about`` are the same page."""
    text = url.strip()
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        return text
    if host.startswith("www."):
        host = host[4:]
    scheme = parts.scheme.lower()
    default = {"http": 80, "https": 443}.get(scheme)
    netloc = host if port in (None, default) else f"{host}:{port}"
    path = parts.path.rstrip("/")
    # http and https serve the same page for every site this matters for.
    return urlunsplit(("https" if scheme == "http" else scheme, netloc, path, parts.query, ""))


@dataclass(frozen=True)
class Evidence:
    """Where the model says an answer comes from: a page and a passage of it."""

    url: str
    quote: str


class PageTexts:
    """The pages a node fetched, by :func:`page_key`, their text normalised once.

    ``add`` takes every address a page answered under (as asked, after redirects).
    """

    def __init__(self) -> None:
        self._texts: dict[str, str] = {}

    def add(self, text: str, *urls: str) -> None:
        normalised = normalise(text)
        for url in urls:
            self._texts.setdefault(page_key(url), normalised)

    def __contains__(self, url: object) -> bool:
        return isinstance(url, str) and page_key(url) in self._texts

    def text(self, url: str) -> str | None:
        return self._texts.get(page_key(url))


def _value(digits: str, decimals: str | None, scale: str | None) -> float:
    number = float(digits.replace(",", "") + (f".{decimals}" if decimals else ""))
    return number * _SCALE.get(scale or "", 1)


def _numbers(text: str) -> Iterator[tuple[float, float]]:
    """(value as written, value with its scale word) of every number in normalised text."""
    for match in _NUMBER.finditer(text):
        digits, decimals, scale = match.groups()
        yield _value(digits, decimals, None), _value(digits, decimals, scale)


def _one(text: str) -> float:
    match = _NUMBER.search(text)
    assert match is not None  # the patterns that call this matched a number
    return _value(*match.groups())


def _quote_numbers(quote: str) -> set[float]:
    found: set[float] = set()
    for plain, scaled in _numbers(quote):
        found.update((round(plain, 6), round(scaled, 6)))
    return found


def _answer_texts(value: Any) -> Iterator[str]:
    """Every piece of the answer that can hold a number, as normalised text."""
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int | float):
        yield format(value, "f").rstrip("0").rstrip(".") if isinstance(value, float) else str(value)
    elif isinstance(value, str):
        yield normalise(value)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _answer_texts(item)
    elif isinstance(value, Iterable):
        for item in value:
            yield from _answer_texts(item)


def _missing_in(text: str, quote: str, quote_numbers: set[float]) -> str | None:
    """What of ``text`` (a normalised piece of the answer) the quote lacks, or None."""

    def has(number: float) -> bool:
        return round(number, 6) in quote_numbers

    rest = text
    for match in _ISO_DATE.finditer(text):
        year, month, day = (int(g) for g in match.groups())
        month_named = _MONTHS[month - 1] if 1 <= month <= 12 else None
        if (
            not has(year)
            or not has(day)
            or not (has(month) or (month_named and month_named in quote))
        ):
            return f"the date {match.group(0)}"
    rest = _ISO_DATE.sub(" ", rest)
    for match in _RANGE.finditer(rest):
        low, high = sorted((_one(match.group(1)), _one(match.group(2))))
        ends = has(low) and has(high)
        if not ends and not any(low <= n <= high for n in quote_numbers):
            return f"the range {match.group(0)}"
    rest = _RANGE.sub(" ", rest)
    for match in _OPEN_RANGE.finditer(rest):
        low = _one(match.group(1))
        if not any(n >= low for n in quote_numbers):
            return f"the range {match.group(0)}"
    rest = _OPEN_RANGE.sub(" ", rest)
    for _plain, scaled in _numbers(rest):
        if not has(scaled):
            return f"the number {_show(scaled)}"
    for match in _MONTH_NEAR_NUMBER.finditer(text):
        word = match.group(1) or match.group(2)
        named = _MONTH_ABBR.get(word[:3])
        names = {word, _MONTHS[named - 1] if named else word, word[:3]}
        if not any(re.search(rf"\b{re.escape(n)}\b", quote) for n in names):
            return f"the month {word}"
    for match in _CURRENCY_MARK.finditer(text):
        spellings = next(
            (s for s in _CURRENCIES.values() if match.group(0) in s), (match.group(0),)
        )
        if not any(s in quote for s in spellings):
            return f"the currency {match.group(0)}"
    return None


def _show(number: float) -> str:
    return str(int(number)) if number == int(number) else str(number)


def check(value: Any, evidence: Evidence | None, pages: PageTexts) -> str | None:
    """Why ``value`` is not supported by ``evidence`` on ``pages`` (a reason starting with
    ``unsupported:``), or None when it is. ``None`` (no answer) needs no evidence."""
    if value is None:
        return None
    if evidence is None or not evidence.url.strip():
        return f"{UNSUPPORTED}: no source given"
    if evidence.url not in pages:
        return f"{UNSUPPORTED}: {_short(evidence.url)} is not a page this node read"
    quote = normalise(evidence.quote).strip(_QUOTE_MARKS)
    if len(quote) < MIN_QUOTE_CHARS or " " not in quote:
        return f"{UNSUPPORTED}: quote too short to check on {_short(evidence.url)}"
    if len(quote) > MAX_QUOTE_CHARS:
        return f"{UNSUPPORTED}: quote longer than {MAX_QUOTE_CHARS} characters"
    text = pages.text(evidence.url) or ""
    if quote not in text:
        return f"{UNSUPPORTED}: quote not found on {_short(evidence.url)}"
    numbers = _quote_numbers(quote)
    for piece in _answer_texts(value):
        missing = _missing_in(piece, quote, numbers)
        if missing is not None:
            return f"{UNSUPPORTED}: {missing} is not in the quote"
    return None


def _short(url: str, limit: int = 200) -> str:
    """A URL as a reason shows it: one line, at most ``limit`` characters."""
    text = " ".join(url.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
