"""Is this a work email of this company? The gate every finder's answer must pass.

Finders guess: a namesake at another company, an address on a shared host, a
placeholder for an address the account has not unlocked, a string that is not
an address at all. An email is kept only when it is well-formed (the
``email-validator`` library, syntax only: no DNS lookup at run time) and its
domain is the company's own site (same registrable domain, so ``mail.acme.com``
belongs to ``acme.com`` but ``other.vercel.app`` does not belong to
``acme.vercel.app``: the Public Suffix List of :mod:`lead_pipeline.domains`),
compared in one spelling (IDNA ASCII), so ``ada@bücher.de`` belongs to ``https://bücher.de``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from email_validator import EmailNotValidError, validate_email

from lead_pipeline.domains import ascii_domain, domain_name, registrable_domain


@dataclass(frozen=True)
class EmailCheck:
    """``email`` is the normalised address when it passed; ``reason`` says why not."""

    email: str | None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.email is not None


def company_domain(website: Any) -> str | None:
    """The registrable domain of a lead's website, or None when it has none usable."""
    host = domain_name(website)
    return registrable_domain(host) if host else None


def check_work_email(address: Any, website: Any) -> EmailCheck:
    """Accept ``address`` only as a well-formed address at the company's own domain."""
    if not isinstance(address, str) or not address.strip():
        return EmailCheck(None, "no address")
    try:
        valid = validate_email(address.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        return EmailCheck(None, f"not a valid address: {exc}")
    site = company_domain(website)
    if site is None:
        return EmailCheck(None, "the company has no website to check the address against")
    domain = valid.ascii_domain.lower()
    # One spelling for both: the validator gives punycode, the website cell may be Unicode.
    if ascii_domain(registrable_domain(domain)) != ascii_domain(site):
        return EmailCheck(None, f"{domain} is not the company's domain ({site})")
    local = valid.ascii_email.rsplit("@", 1)[0] if valid.ascii_email else valid.local_part
    return EmailCheck(f"{local}@{domain}")
