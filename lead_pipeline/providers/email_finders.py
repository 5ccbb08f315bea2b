"""Work email finders: Hunter's Email Finder, Apollo's People Match, People Data Labs'
Person Enrichment, and Hunter's Email Verifier, normalised to one answer shape.

Each provider's documented wire protocol, as read for this module:

- **Hunter** (https://hunter.io/api-documentation/v2#email-finder):
  ``GET /v2/email-finder?domain=&first_name=&last_name=`` (or ``full_name``) with
  the key in ``X-API-KEY`` (``api_key=`` in the query also works; we never put
  keys in URLs). 200 with ``data.email`` (null when nothing is found),
  ``data.score`` (0-100), ``data.sources[].uri`` and ``data.verification.status``.
  Errors: 401 bad key, **403 rate limit reached** (15 requests/s, 500/min per
  key), **429 usage limit reached** (the month's credits are spent). Billing
  (help.hunter.io "What is a request and how is it counted"): one search credit
  per email found; "no requests are counted if Hunter cannot provide an email".
  The Email Verifier (``GET /v2/email-verifier?email=``; 10 requests/s, 300/min)
  answers ``data.status`` (valid, invalid, accept_all, webmail, disposable,
  unknown) and costs one verification credit per address processed.
- **Apollo** (https://docs.apollo.io/reference/people-enrichment):
  ``POST /api/v1/people/match`` with ``X-Api-Key`` and a JSON body of
  ``first_name``, ``last_name``, ``domain``, ``organization_name``,
  ``linkedin_url``; answers ``{"person": {...}}``, ``person`` null when no one
  matches. "Credits are charged only if credit-consuming data is found: 1 credit
  for demographics or email"; an unmatched person consumes none. An email Apollo
  has not unlocked comes back as a placeholder (``email_not_unlocked@domain.com``),
  which the validator refuses. Limits are fixed windows per minute, hour and day
  by plan; a 429 is paced by ``Retry-After`` or backoff.
- **People Data Labs** (https://docs.peopledatalabs.com/docs/reference-person-enrichment-api):
  ``GET /v5/person/enrich`` with ``X-Api-Key``; 200 with ``likelihood`` (1-10)
  and ``data`` (``work_email``, ``job_company_website``...) on a match, **404 when
  no one matches**, "We charge per match". ``required=work_email`` makes a
  record without a work email a 404 (not charged). 100 requests/min free, 1,000
  paid, fixed 60-second windows; every answer carries ``x-ratelimit-remaining``
  (JSON per window, e.g. ``{"minute": 99}``) and ``x-ratelimit-reset``; a 429
  follows once remaining reaches zero (docs.peopledatalabs.com usage limits).

A finder answer is ``None`` (no match, free) or ``{"email", "confidence" (0-1),
"source", "verification"}``; whether the address is a *work* email of *this*
company is the caller's validator's decision (:mod:`lead_pipeline.founders.emails`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr

from lead_pipeline.providers.answer import AnswerTooLarge
from lead_pipeline.providers.errors import InvalidAnswer, NotConfigured, ProviderError
from lead_pipeline.providers.http import HttpAnswer, request_json
from lead_pipeline.providers.models import Answer, Text, parse_answer
from lead_pipeline.providers.policy import CallPolicy, Paid, ProviderResponse, Tab
from lead_pipeline.providers.retry import parse_reset
from lead_pipeline.providers.session import ProviderSession
from lead_pipeline.settings import Settings, setting

HUNTER = "hunter"
APOLLO = "apollo"
PDL = "pdl"
HUNTER_VERIFY = "hunter_verify"


@dataclass(frozen=True)
class FinderBackend:
    name: str
    key_env: str
    base_url_env: str
    # Documented default pace per key, used by ``--plan`` for its time estimate.
    requests_per_second: float


BACKENDS = {
    HUNTER: FinderBackend(HUNTER, "HUNTER_API_KEY", "HUNTER_BASE_URL", 15),
    APOLLO: FinderBackend(APOLLO, "APOLLO_API_KEY", "APOLLO_BASE_URL", 50 / 60),
    PDL: FinderBackend(PDL, "PDL_API_KEY", "PDL_BASE_URL", 100 / 60),
}
FINDERS = tuple(BACKENDS)
# The verifier shares Hunter's key and base URL; its own documented pace is 10/s.
VERIFY_REQUESTS_PER_SECOND = 10.0


def configured_email_finders(config: Settings | None = None) -> list[str]:
    """Email finders with a key set in ``config`` (the environment's by default), in
    preference order."""
    return [name for name, b in BACKENDS.items() if setting(b.key_env, config) is not None]


def email_env_vars(providers: Iterable[str] = FINDERS) -> list[str]:
    """The variables that would configure these finders, for "not configured" messages."""
    return [BACKENDS[p].key_env for p in providers]


def verifier_configured(config: Settings | None = None) -> bool:
    return setting(BACKENDS[HUNTER].key_env, config) is not None


@dataclass(frozen=True)
class PersonQuery:
    """Who to look for: a name at a company domain, with what else is known."""

    full_name: str
    domain: str
    company: str | None = None
    linkedin_url: str | None = None

    @property
    def first_name(self) -> str:
        return self.full_name.split()[0] if self.full_name.split() else ""

    @property
    def last_name(self) -> str:
        parts = self.full_name.split()
        return parts[-1] if len(parts) > 1 else ""

    def as_request(self) -> dict[str, Any]:
        """The normalised question, for the cache key: whitespace and case never matter."""
        return {
            "name": " ".join(self.full_name.split()).lower(),
            "domain": self.domain.lower(),
            "company": (self.company or "").strip().lower() or None,
            "linkedin_url": self.linkedin_url or None,
        }


def _base(backend: FinderBackend, config: Settings | None) -> str:
    return str(setting(backend.base_url_env, config))


def _key(backend: FinderBackend, what: str, config: Settings) -> SecretStr:
    key: SecretStr | None = setting(backend.key_env, config)
    if key is None:
        raise NotConfigured(what, [backend.key_env])
    return key


def finder_request(
    provider: str, person: PersonQuery, config: Settings | None = None
) -> dict[str, Any]:
    """What the cache keys a finder call by (no key, the base URL included)."""
    return {"base_url": _base(BACKENDS[provider], config), **person.as_request()}


def verify_request(email: str, config: Settings | None = None) -> dict[str, Any]:
    return {"base_url": _base(BACKENDS[HUNTER], config), "verify": email.strip().lower()}


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


# Hunter's score is an integer from 0 to 100 (its documentation); PDL's likelihood 1 to 10.
Score = Annotated[int, Field(ge=0, le=100)]
Likelihood = Annotated[int, Field(ge=1, le=10)]
MAX_SOURCES = 20  # only the first source is kept; the rest is neither checked nor stored


class HunterSource(Answer):
    uri: Text | None = None


class HunterVerification(Answer):
    status: Text | None = None


class HunterFound(Answer):
    email: Text | None = None
    score: Score | None = None
    sources: list[HunterSource] = []
    verification: HunterVerification | None = None


class HunterAnswer(Answer):
    data: HunterFound


def _hunter_charged(data: Any) -> bool:
    """Hunter bills a search when it found an address, whatever else the answer holds: an
    ``email`` that is there but malformed counts (charging it is the safe side)."""
    body = data.get("data") if isinstance(data, dict) else None
    return isinstance(body, dict) and body.get("email") not in (None, "")


def parse_hunter(data: Any, price: float = 0.0) -> dict[str, Any] | None:
    """Hunter's Email Finder answer as the finder shape, or None (nothing found, free). An
    answer that does not fit :class:`HunterAnswer` (a score of ``"5"``, ``1e400`` or 400
    digits) is an :class:`InvalidAnswer` carrying ``price`` when an address was found."""
    if isinstance(data, dict) and isinstance(data.get("data"), dict):
        sources = data["data"].get("sources")
        if isinstance(sources, list):  # cut before checking: only the first is kept
            data = {**data, "data": {**data["data"], "sources": sources[:MAX_SOURCES]}}
    cost = price if _hunter_charged(data) else 0.0
    found = parse_answer(HunterAnswer, data, HUNTER, cost=cost).data
    email = _text(found.email)
    if email is None:
        return None
    uris = [u for s in found.sources if (u := _text(s.uri))]
    return {
        "email": email,
        "confidence": round(found.score / 100, 2) if found.score is not None else None,
        "source": uris[0] if uris else "hunter:email-finder",
        "verification": _text(found.verification.status) if found.verification else None,
    }


# Apollo's email_status, as a confidence: "verified" is checked by Apollo, the
# others are its guesses from the company's address pattern.
APOLLO_CONFIDENCE = {"verified": 0.95, "likely to engage": 0.8, "extrapolated": 0.5, "guessed": 0.5}
# What Apollo sends for an address the account has not unlocked, at any domain (the
# company's own included): not an address, and not charged.
APOLLO_PLACEHOLDER = "email_not_unlocked"


class ApolloPerson(Answer):
    id: Text | None = None
    email: Text | None = None
    email_status: Text | None = None


class ApolloAnswer(Answer):
    person: ApolloPerson | None  # null when no one matches; absent only in an error body


def _apollo_email(email: str | None) -> str | None:
    email = _text(email)
    if email is None or email.lower().startswith(APOLLO_PLACEHOLDER):
        return None
    return email


def parse_apollo(data: Any, price: float = 0.0) -> dict[str, Any] | None:
    """Apollo's People Match answer as the finder shape, or None (no match or a
    placeholder address, free)."""
    person = data.get("person") if isinstance(data, dict) else None
    email = person.get("email") if isinstance(person, dict) else None
    charged = email not in (None, "") and not (
        isinstance(email, str) and _apollo_email(email) is None
    )
    found = parse_answer(ApolloAnswer, data, APOLLO, cost=price if charged else 0.0).person
    if found is None:
        return None
    email = _apollo_email(found.email)
    if email is None:
        return None
    status = _text(found.email_status)
    return {
        "email": email,
        "confidence": APOLLO_CONFIDENCE.get((status or "").lower()),
        "source": f"apollo:person/{found.id.strip()}" if found.id and _text(found.id) else "apollo",
        "verification": status,
    }


class PdlRecord(Answer):
    id: Text | None = None
    # Plans without contact data send ``true`` for a field they hold but do not show.
    work_email: Text | bool | None = None


class PdlAnswer(Answer):
    likelihood: Likelihood | None = None
    data: PdlRecord


def parse_pdl(answer: HttpAnswer, price: float = 0.0) -> dict[str, Any] | None:
    """People Data Labs' answer as the finder shape; its 404 is a free "no match". Every 200
    is a match, and PDL charges per match, so a 200 that does not fit carries ``price``."""
    if answer.status == 404:
        return None
    body = parse_answer(PdlAnswer, answer.data, PDL, cost=price)
    record = body.data
    email = record.work_email if isinstance(record.work_email, str) else None
    email = _text(email)
    if email is None:
        return None
    likelihood = body.likelihood
    return {
        "email": email,
        "confidence": round(likelihood / 10, 2) if likelihood is not None else None,
        "source": f"pdl:person/{record.id.strip()}" if record.id and _text(record.id) else "pdl",
        "verification": None,
    }


def _pdl_pace(policy: CallPolicy, answer: HttpAnswer) -> None:
    """PDL sends its remaining quota as JSON per window; pause when one is spent.

    The shared ``quota_exhausted_wait`` reads plain numbers only, so a window
    spent would otherwise cost one 429 before the pause.
    """
    raw = answer.headers.get("x-ratelimit-remaining")
    if not raw:
        return
    try:
        remaining = json.loads(raw.replace("'", '"'))
    except ValueError:
        return
    values = remaining.values() if isinstance(remaining, dict) else [remaining]
    if any(isinstance(v, int | float) and v <= 0 for v in values):
        reset = parse_reset(answer.headers.get("x-ratelimit-reset", "")) or 60.0
        policy.limiter.pause(min(reset, policy.retry.max_total_wait))


def _unread_is_paid(exc: ProviderError, price: float) -> ProviderError:
    """A 2xx answer that could not be read (not JSON, ``NaN``, too large) may have been a
    paid match: it is charged at the price of one, never silently at nothing."""
    unread = isinstance(exc, InvalidAnswer | AnswerTooLarge) and not exc.cost
    if unread and exc.status is not None and 200 <= exc.status < 300:
        exc.cost = price
    return exc


async def _call(
    provider: str, person: PersonQuery, session: ProviderSession, policy: CallPolicy
) -> Paid:
    price = policy.prices.request_cost(provider)
    try:
        return await _ask(provider, person, session, policy, price)
    except ProviderError as exc:
        raise _unread_is_paid(exc, price) from None


async def _ask(
    provider: str, person: PersonQuery, session: ProviderSession, policy: CallPolicy, price: float
) -> Paid:
    backend = BACKENDS[provider]
    key = _key(backend, f"email lookup via {provider}", session.settings)
    base = _base(backend, session.settings)
    common: dict[str, Any] = {
        "secret": key,
        "key_env": backend.key_env,
        "timeouts": session.timeouts,
        "max_bytes": session.answer_limit(provider),
    }
    if provider == HUNTER:
        params = {"domain": person.domain}
        if person.last_name:
            params |= {"first_name": person.first_name, "last_name": person.last_name}
        else:
            params["full_name"] = person.full_name
        answer = await request_json(
            session.client,
            policy,
            "GET",
            f"{base}/v2/email-finder",
            headers={"X-API-KEY": key.get_secret_value()},
            params=params,
            throttle_statuses=(403,),
            quota_statuses=(429,),
            **common,
        )
        found = parse_hunter(answer.data, price)
    elif provider == APOLLO:
        body = {
            "first_name": person.first_name,
            "last_name": person.last_name,
            "name": person.full_name,
            "domain": person.domain,
            "organization_name": person.company,
            "linkedin_url": person.linkedin_url,
            "reveal_personal_emails": False,
            "reveal_phone_number": False,
        }
        answer = await request_json(
            session.client,
            policy,
            "POST",
            f"{base}/api/v1/people/match",
            headers={"X-Api-Key": key.get_secret_value(), "Content-Type": "application/json"},
            json_body={k: v for k, v in body.items() if v not in (None, "")},
            **common,
        )
        found = parse_apollo(answer.data, price)
    else:
        params = {
            "name": person.full_name,
            "company": person.domain,
            "required": "work_email",
            "titlecase": "false",
        }
        if person.linkedin_url:
            params["profile"] = person.linkedin_url
        answer = await request_json(
            session.client,
            policy,
            "GET",
            f"{base}/v5/person/enrich",
            headers={"X-Api-Key": key.get_secret_value()},
            params=params,
            answer_statuses=(404,),
            **common,
        )
        _pdl_pace(policy, answer)
        found = parse_pdl(answer, price)
    # All three charge per match, never for "nobody found".
    return Paid(found, price if found is not None else 0.0)


async def find_email(
    person: PersonQuery,
    *,
    provider: str,
    session: ProviderSession,
    use_cache: bool = True,
) -> ProviderResponse:
    """Ask one finder for ``person``'s email; ``data`` is None or the normalised answer.

    "No match" answers are cached too: asking again next week would find the
    same nothing, and a re-run after a crash must not pay twice for anything.
    """
    if provider not in BACKENDS:
        raise ValueError(f"unknown email finder {provider!r}; use one of {list(BACKENDS)}")
    policy = session.policy(provider)
    _key(BACKENDS[provider], f"email lookup via {provider}", session.settings)
    return await policy.run(
        finder_request(provider, person, session.settings),
        lambda _tab: _call(provider, person, session, policy),
        price=policy.prices.request_cost(provider),  # per match: the most one lookup costs
        use_cache=use_cache,
    )


class HunterVerdict(Answer):
    status: Literal["valid", "invalid", "accept_all", "webmail", "disposable", "unknown"]
    score: Score | None = None


class HunterVerifyAnswer(Answer):
    data: HunterVerdict


def parse_verification(data: Any, price: float = 0.0) -> dict[str, Any]:
    """Hunter's Email Verifier answer; a verification credit is spent on every answer."""
    verdict = parse_answer(HunterVerifyAnswer, data, HUNTER, cost=price).data
    return {"status": verdict.status, "score": verdict.score}


async def verify_email(
    email: str, *, session: ProviderSession, use_cache: bool = True
) -> ProviderResponse:
    """Hunter's Email Verifier; ``data`` is ``{"status", "score"}``.

    Priced as ``hunter_verify``: one verification credit per address processed.
    """
    backend = BACKENDS[HUNTER]
    key = _key(backend, "email verification via hunter", session.settings)
    policy = session.policy(HUNTER_VERIFY)
    base = _base(backend, session.settings)

    price = policy.prices.request_cost(HUNTER_VERIFY)

    async def call(_tab: Tab) -> Paid:
        try:
            return await ask()
        except ProviderError as exc:
            raise _unread_is_paid(exc, price) from None

    async def ask() -> Paid:
        answer = await request_json(
            session.client,
            policy,
            "GET",
            f"{base}/v2/email-verifier",
            headers={"X-API-KEY": key.get_secret_value()},
            params={"email": email},
            secret=key,
            key_env=backend.key_env,
            timeouts=session.timeouts,
            max_bytes=session.answer_limit(HUNTER_VERIFY),
            throttle_statuses=(403,),
            quota_statuses=(429,),
        )
        return Paid(parse_verification(answer.data, price), price)

    return await policy.run(
        verify_request(email, session.settings), call, price=price, use_cache=use_cache
    )
