"""HubSpot's CRM APIs: contacts upserted by email, companies created, and their association.

HubSpot's documented protocol, as read for this module
(developers.hubspot.com/docs/api-reference, CRM v3 objects and v4 associations):

- ``POST /crm/v3/objects/contacts/batch/upsert`` with
  ``{"inputs": [{"idProperty": "email", "id": "ada@acme.com", "properties": {...}}]}``
  creates or updates records "identified by a unique property value as specified
  by the idProperty", where idProperty is "a property whose values are unique for
  the object"; at most 100 inputs per batch. 200 (all done) or **207 Multi-Status**
  with ``results`` (``id``, ``properties``, ``new``) for the inputs that succeeded
  and ``errors`` (``category``, ``message``, ``context``) for the others, so one bad
  row never hides the rest. A contact's email is such a property; a company's
  ``domain`` is not (HubSpot lets companies share a domain, and creates a second
  one through the API), so companies cannot be upserted by it:
- ``POST /crm/v3/objects/companies/batch/create`` with ``{"inputs": [{"properties":
  {...}}]}`` creates one company per input (201, or 207 as above); the sync sends
  only companies it looked for first and did not find (``crm/sync.py``), and
  updates the others by their id (``batch/update``, ``crm/match.py``).
- ``POST /crm/v4/associations/contacts/companies/batch/associate/default`` with
  ``{"inputs": [{"from": {"id"}, "to": {"id"}}]}`` creates "the default (most
  generic) association type between two object types".
- Auth: ``Authorization: Bearer <private app access token>``; 401 for a bad token.
- Limits (API usage guidelines): private apps get 100 requests per 10 seconds
  (Free and Starter; 150 on Professional and Enterprise) and a daily cap. Every
  answer carries ``X-HubSpot-RateLimit-Max``, ``-Remaining`` and
  ``-Interval-Milliseconds`` for the 10-second window; over it, a 429 with
  ``policyName: TEN_SECONDLY_ROLLING`` (or ``DAILY``). We pace at 10 requests per
  second by default (``LEAD_PIPELINE_RATE_LIMITS`` overrides ``hubspot``), pause
  for the window when ``-Remaining`` reaches 1, and honour a 429's Retry-After.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, Field, SecretStr

from lead_pipeline.providers.errors import NotConfigured, ProviderError
from lead_pipeline.providers.http import HttpAnswer, request_json
from lead_pipeline.providers.models import Answer, Text, parse_answer
from lead_pipeline.providers.policy import CallPolicy
from lead_pipeline.providers.ratelimit import Limit
from lead_pipeline.providers.session import ProviderSession
from lead_pipeline.settings import Settings

HUBSPOT = "hubspot"
TOKEN_ENV = "HUBSPOT_ACCESS_TOKEN"
BATCH_SIZE = 100  # the documented maximum of a batch upsert, create or update
# 100 requests per 10 s, the lowest tier's burst limit, spread evenly.
DEFAULT_LIMIT = Limit(requests_per_second=10.0, max_in_flight=4)
COMPANIES = "companies"
CONTACTS = "contacts"
# The property a record is keyed by in the store and matched by in HubSpot's answers.
ID_PROPERTY = {COMPANIES: "domain", CONTACTS: "email"}
# Those HubSpot keeps unique, which alone may key a batch upsert (see the module doc).
UNIQUE_PROPERTY = {CONTACTS: "email"}
B = TypeVar("B", bound=BaseModel)


def hubspot_token(config: Settings) -> SecretStr:
    token = config.hubspot_access_token
    if token is None:
        raise NotConfigured("HubSpot sync", [TOKEN_ENV])
    return token


@dataclass
class BatchOutcome:
    """Per key: the HubSpot id of each record written, or why it was not."""

    ids: dict[str, str] = field(default_factory=dict)
    created: set[str] = field(default_factory=set)
    errors: dict[str, str] = field(default_factory=dict)


# HubSpot record ids are decimal numbers sent as text ("512"); anything else (an object,
# a number, a path) is not an id, and must never be stored or sent in an association.
HubSpotId = Annotated[str, Field(pattern=r"^[0-9]{1,20}$")]


class HubSpotRecord(Answer):
    id: HubSpotId
    properties: dict[str, str | None] = {}
    new: bool | None = None


class HubSpotError(Answer):
    category: Text | None = None
    message: Text | None = None
    context: dict[str, list[Text]] | None = None

    def text(self) -> str:
        parts = [(self.category or "").strip(), (self.message or "").strip()]
        return ": ".join(p for p in parts if p)[:300] or "rejected by HubSpot"


class HubSpotBatch(Answer):
    """A batch upsert's or create's answer, 200/201 or 207 (HubSpot's ``BatchResponse``)."""

    results: list[HubSpotRecord] = []
    errors: list[HubSpotError] = []


class AssociationEnd(Answer):
    id: HubSpotId


class AssociationResult(Answer):
    from_: AssociationEnd = Field(alias="from")


class AssociationBatch(Answer):
    results: list[AssociationResult] = []
    errors: list[HubSpotError] = []


def _parse_batch(data: Any, model: type[B], sent: int) -> B:
    """``data`` as ``model``, its lists cut to the number of inputs sent (an answer has at
    most one result or error per input; more would only be held and checked)."""
    if isinstance(data, dict):
        data = {k: v[:sent] if isinstance(v, list) else v for k, v in data.items()}
    return parse_answer(model, data, HUBSPOT)


def parse_upsert(
    answer: HttpAnswer, object_type: str, keys: Sequence[str], *, created: bool = False
) -> BatchOutcome:
    """Match HubSpot's results and errors (200/201 or 207) back to the keys sent, by the
    key's property in each result; an answer that does not fit :class:`HubSpotBatch` is
    an :class:`InvalidAnswer` (the batch fails). ``created``: every result is a new
    record (a ``batch/create``, whose results say nothing of ``new``)."""
    batch = _parse_batch(answer.data, HubSpotBatch, len(keys))
    id_property = ID_PROPERTY[object_type]
    wanted = {k.lower(): k for k in keys}
    outcome = BatchOutcome()
    for result in batch.results:
        value = (result.properties.get(id_property) or "").lower()
        key = wanted.get(value)
        if key is None:
            continue  # an answer for nothing we sent: never attach it to a row
        outcome.ids[key] = result.id
        if result.new or created:
            outcome.created.add(key)
    unexplained = "rejected by HubSpot (no result for it in the answer)"
    for error in batch.errors:
        message = error.text()
        ids = (error.context or {}).get("ids", [])
        named = [wanted[i.lower()] for i in ids if i.lower() in wanted]
        for key in named:
            outcome.errors[key] = message
        if not named:
            unexplained = message
    for key in keys:
        if key not in outcome.ids and key not in outcome.errors:
            outcome.errors[key] = unexplained
    return outcome


class HubSpotClient:
    """The calls the sync makes, through the shared provider policy (pace, retries); the
    token and the base URL are the session's settings'."""

    def __init__(self, session: ProviderSession) -> None:
        self.session = session
        self.token = hubspot_token(session.settings)
        self.base = session.settings.hubspot_base_url
        self.policy: CallPolicy = session.policy(HUBSPOT)

    async def _post(self, path: str, body: dict[str, Any]) -> HttpAnswer:
        answer = await request_json(
            self.session.client,
            self.policy,
            "POST",
            f"{self.base}{path}",
            headers={
                "Authorization": f"Bearer {self.token.get_secret_value()}",
                "Content-Type": "application/json",
            },
            json_body=body,
            secret=self.token,
            key_env=TOKEN_ENV,
            timeouts=self.session.timeouts,
            max_bytes=self.session.answer_limit(HUBSPOT),
        )
        self._pace(answer)
        return answer

    def _pace(self, answer: HttpAnswer) -> None:
        """Wait out the 10-second window before its last request is spent."""
        try:
            remaining = int(answer.headers.get("x-hubspot-ratelimit-remaining", ""))
            interval = float(answer.headers.get("x-hubspot-ratelimit-interval-milliseconds", ""))
        except ValueError:
            return
        if remaining <= 1:
            self.policy.limiter.pause(min(interval / 1000, self.policy.retry.max_total_wait))

    async def upsert(
        self, object_type: str, records: Sequence[tuple[str, dict[str, Any]]]
    ) -> BatchOutcome:
        """Upsert ``(key, properties)`` records in batches by their unique property (contacts
        by email), or create them (companies: :data:`UNIQUE_PROPERTY` has none); a failed
        batch fails its keys only."""
        outcome = BatchOutcome()
        for start in range(0, len(records), BATCH_SIZE):
            batch = records[start : start + BATCH_SIZE]
            path, body = batch_request(object_type, batch)
            keys = [key for key, _ in batch]
            try:
                answer = await self._post(path, body)
                part = parse_upsert(
                    answer, object_type, keys, created=object_type not in UNIQUE_PROPERTY
                )
            except ProviderError as exc:
                part = BatchOutcome(errors={key: exc.message for key in keys})
            outcome.ids |= part.ids
            outcome.created |= part.created
            outcome.errors |= part.errors
        return outcome

    async def associate(self, pairs: Sequence[tuple[str, str, str]]) -> dict[str, str]:
        """Associate ``(contact key, contact id, company id)``; returns errors by contact key."""
        errors: dict[str, str] = {}
        for start in range(0, len(pairs), BATCH_SIZE):
            batch = pairs[start : start + BATCH_SIZE]
            try:
                answer = await self._post(
                    "/crm/v4/associations/contacts/companies/batch/associate/default",
                    association_body(batch),
                )
                parsed = _parse_batch(answer.data, AssociationBatch, len(batch))
            except ProviderError as exc:
                errors |= {key: exc.message for key, _, _ in batch}
                continue
            done = {r.from_.id for r in parsed.results}
            failure = next((e.text() for e in parsed.errors), None)
            for key, contact_id, _ in batch:
                if contact_id not in done:
                    errors[key] = failure or "association not confirmed by HubSpot"
        return errors


def batch_request(
    object_type: str, batch: Sequence[tuple[str, dict[str, Any]]]
) -> tuple[str, dict[str, Any]]:
    """The path and body that write ``batch``: an upsert by the object's unique property,
    or, for an object without one (companies), a create carrying the key's property."""
    id_property = UNIQUE_PROPERTY.get(object_type)
    if id_property is None:
        key_property = ID_PROPERTY[object_type]
        inputs = [{"properties": {**props, key_property: key}} for key, props in batch]
        return f"/crm/v3/objects/{object_type}/batch/create", {"inputs": inputs}
    upserts = [
        {"idProperty": id_property, "id": key, "properties": properties}
        for key, properties in batch
    ]
    return f"/crm/v3/objects/{object_type}/batch/upsert", {"inputs": upserts}


def association_body(batch: Sequence[tuple[str, str, str]]) -> dict[str, Any]:
    return {"inputs": [{"from": {"id": c}, "to": {"id": k}} for _, c, k in batch]}
