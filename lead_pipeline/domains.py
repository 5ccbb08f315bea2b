"""Host names and registrable domains: the one place the pipeline parses a domain.

Lead ids, the ``domain()`` function of expressions and templates, the founders' identity gate
and the classifier's features all ask the same questions of a website cell ("what host is
this?", "which site does it belong to?"), and each used to answer them its own way. The answers
now come from here, and the "which site" question from the Public Suffix List (PSL) through
``tldextract``.

The PSL matters for more than ``co.uk``: its *private* section lists shared hosting domains
(``vercel.app``, ``github.io``, ``herokuapp.com``, ``blogspot.com``) under which every tenant
is a separate site. ``acme.vercel.app`` and ``other.vercel.app`` are two companies, and a gate
that called them one site would accept a namesake.

The list is the snapshot bundled with the installed ``tldextract``: no request is ever made and
no cache file is written (``suffix_list_urls=()``, ``cache_dir=None``), so the answer does not
depend on network access, the working directory or ``TLDEXTRACT_*`` environment variables, and
a step process never blocks on a download. A newer list arrives with a newer ``tldextract``.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

import idna
import tldextract

MAX_URL_CHARS = 2048  # longer cells are not websites; refusing them keeps parsing cheap

_EXTRACT = tldextract.TLDExtract(
    cache_dir=None,
    suffix_list_urls=(),
    fallback_to_snapshot=True,
    include_psl_private_domains=True,
)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_BAD_HOST_CHARS = frozenset("/\\@<>\"'`%?#[]{}|^")
# A domain name: two or more labels of letters (any script), digits, "-" and "_".
_DOMAIN_NAME = re.compile(r"^(?:[\w-]+\.)+[\w-]{2,}$")


def host_of(value: Any) -> str | None:
    """The host a website, e-mail address or bare domain names: lower case, no port, no ``www.``.

    ``https://WWW.Acme.com:8080/about`` -> ``acme.com``; ``bob@acme.com`` -> ``acme.com``;
    ``localhost`` -> ``localhost``. ``None`` when the value has no usable host: lead data is
    messy, and one bad cell must remove one way of matching, not fail a row.
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > MAX_URL_CHARS:
        return None
    if not _SCHEME.match(text):
        if "@" in text and "/" not in text:
            text = text.rsplit("@", 1)[1]  # an e-mail address
        text = "//" + text.lstrip("/")
    try:
        host = urlsplit(text).hostname
    except ValueError:
        return None
    if not host:
        return None
    host = _without_www(host.rstrip("."))
    if not host or any(c.isspace() or c in _BAD_HOST_CHARS for c in host):
        return None
    return host


@functools.lru_cache(maxsize=8192)  # a list repeats hosts; the PSL lookup is the cost
def _without_www(host: str) -> str:
    """``www.acme.com`` -> ``acme.com``; but ``www`` stays where it is the site's own label.

    Under a bare public suffix ``www`` is the registrable label: ``www.ck`` (a PSL
    exception rule), ``www.vercel.app`` (a tenant). Dropping it there named the suffix
    instead of the site, or nothing at all (``www.ck`` -> ``ck``).
    """
    if not host.startswith("www."):
        return host
    parts = _EXTRACT.extract_str(host.lower())
    if parts.domain == "www" and not parts.subdomain:
        return host
    return host[4:]


def ascii_domain(host: str) -> str:
    """``host`` in its one ASCII spelling: IDNA 2008 with UTS 46 mapping (``Bücher.DE`` ->
    ``xn--bcher-kva.de``), as e-mail validators and DNS write it.

    A domain has two spellings: a website cell keeps ``bücher.de`` in Unicode, an e-mail
    address comes back from its validator as ``xn--bcher-kva.de``. Two hosts are compared in
    this form. Text IDNA refuses is returned lower case, as it is.
    """
    text = host.strip().rstrip(".").lower()
    try:
        return idna.encode(text, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        return text


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def domain_name(value: Any) -> str | None:
    """:func:`host_of`, but only when that host is a domain name (``acme.com``, ``bücher.de``).

    Single labels (``localhost``), IP addresses and hosts whose last label is a number are not
    a company's domain, so they give ``None``.
    """
    host = host_of(value)
    if host is None or _is_ip(host) or not _DOMAIN_NAME.match(host):
        return None
    if host.rsplit(".", 1)[1].isdigit():
        return None
    return host


def registrable_domain(host: str) -> str:
    """The site ``host`` belongs to: one label under its public suffix.

    ``app.acme.co.uk`` -> ``acme.co.uk``; ``acme.github.io`` -> ``acme.github.io`` (each tenant
    of a shared host is its own site); ``pilot.com.evil.io`` -> ``evil.io``. A host on no known
    suffix keeps its last two labels, and a bare suffix (``vercel.app``, ``kyoto.jp``) is its own
    site, so two hosts only share a site when they really may.

    That last rule is where this differs from the PSL's own tests (which give a bare suffix
    no registrable domain, ``null``), on purpose: a lead whose website is ``uk.com`` is a
    company's (CentralNic's) site, and calling it its own site only ever matches that same
    host, never a tenant under it. ``lead_pipeline_tests/test_domains_psl.py`` runs the PSL's
    ``tests/test_psl.txt`` and lists each such case.
    """
    host = host.lower().rstrip(".")
    parts = _EXTRACT.extract_str(host)
    if parts.suffix and parts.domain:
        return f"{parts.domain}.{parts.suffix}"
    if parts.suffix:
        return parts.suffix
    if _is_ip(host):
        return host
    return ".".join(host.split(".")[-2:])


def site_name(host: str) -> str:
    """The label a company chose: ``www.pilot.com`` -> ``pilot``, ``acme.github.io`` -> ``acme``."""
    return registrable_domain(host).split(".")[0]


def top_level_domain(value: Any) -> str | None:
    """The top-level domain of a website (``ai``, ``io``, ``uk``): the last label of its ICANN
    suffix; ``None`` for no host, an IP address or an ending on no list."""
    host = domain_name(value)
    if host is None:
        return None
    parts = _EXTRACT.extract_str(host, include_psl_private_domains=False)
    if not parts.suffix:
        return None
    return parts.suffix.rsplit(".", 1)[-1]
