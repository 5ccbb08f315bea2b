"""LinkedIn profile URLs reduced to one canonical form: ``https://www.linkedin.com/in/<slug>``.

Search engines return the same profile under many spellings (``uk.linkedin.com``, ``http://``,
``?trk=...``, ``/in/Jane-Doe/de``, ``/recent-activity/``). Founders are deduplicated and exported
by URL, so every spelling must collapse to one string, and anything that is not a person's
profile (company pages, posts, Pulse articles, ``/pub/dir`` search pages, lookalike hosts) must
be refused here rather than trusted downstream.

Rules:

- scheme ``http`` or ``https`` (a missing scheme is read as ``https``); no user info; port, if
  any, 80 or 443;
- host exactly ``linkedin.com``, ``www.linkedin.com``, ``m.linkedin.com`` or a two-letter
  country/language subdomain (``uk.``, ``de.``); ``linkedin.com.evil.io``, ``notlinkedin.com``
  and shorteners such as ``lnkd.in`` are refused;
- path ``/in/<slug>[/anything]`` (LinkedIn Lite's ``/mwlite/in/<slug>`` too); what follows the
  slug, the query and the fragment are dropped;
- the slug is percent-decoded once (so ``%2F`` cannot smuggle a second path segment), must be
  3-100 letters, digits, ``-`` or ``_`` (LinkedIn's own rule for public profile URLs; letters
  may be non-ASCII in generated slugs), is lowercased because LinkedIn matches slugs
  case-insensitively, and is re-encoded as UTF-8 percent escapes so the result is plain ASCII.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote, unquote, urlsplit

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_HOST = re.compile(r"^(?:(?:www|m|[a-z]{2})\.)?linkedin\.com$")
_SLUG_MIN, _SLUG_MAX = 3, 100
_SLUG_PUNCTUATION = frozenset("-_")
CANONICAL_PREFIX = "https://www.linkedin.com/in/"


def canonical_profile_url(url: str) -> str | None:
    """Return ``https://www.linkedin.com/in/<slug>`` for a person's profile URL, else ``None``."""
    if not isinstance(url, str):
        return None
    text = url.strip()
    if not text or any(ch.isspace() or ch == "\\" or ord(ch) < 32 for ch in text):
        return None
    if text.startswith("//"):
        text = "https:" + text
    elif not _SCHEME.match(text):
        text = "https://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or "@" in parts.netloc:
        return None
    if port not in (None, 80, 443):
        return None
    host = (parts.hostname or "").rstrip(".")
    if not _HOST.match(host):
        return None
    slug = _profile_slug(parts.path)
    if slug is None:
        return None
    return CANONICAL_PREFIX + quote(slug, safe="-_")


def is_canonical_profile_url(url: str) -> bool:
    """True when ``url`` is already exactly the canonical spelling of a profile URL."""
    return isinstance(url, str) and canonical_profile_url(url) == url


def _profile_slug(path: str) -> str | None:
    segments = [segment for segment in path.split("/") if segment]
    if segments and unquote(segments[0]).lower() == "mwlite":
        segments = segments[1:]
    if len(segments) < 2 or unquote(segments[0]).lower() != "in":
        return None
    try:
        slug = unquote(segments[1], errors="strict")
    except UnicodeDecodeError:
        return None
    slug = unicodedata.normalize("NFC", slug).lower()
    if not _SLUG_MIN <= len(slug) <= _SLUG_MAX:
        return None
    if not all(ch.isalnum() or ch in _SLUG_PUNCTUATION for ch in slug):
        return None
    if not any(ch.isalnum() for ch in slug):
        return None
    return slug
