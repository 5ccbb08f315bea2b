"""Is this company already in the CRM? One match for the dedupe node and for the sync.

A row is matched to HubSpot's companies by its **registrable domain**
(``https://www.acme.com/about`` -> ``acme.com``), which HubSpot may hold as
``acme.com`` or ``www.acme.com``; a row with no website is matched by **name**,
with the founders' identity gate (``founders/identity.py``): names are compared
whole after folding case, accents, legal forms and brand suffixes, never by
containment, so "Acme" never matches "Acme Robotics". When several companies in
the CRM share the domain, the oldest (lowest id) is the match: the one a sales
team has worked longest.

Questions are batched: rows in flight ask at once, and one CRM search answers up
to 50 domains (``domain IN`` with both spellings, 100 values) or 5 names (one
filter group each, ``name CONTAINS_TOKEN`` its most distinctive word, then the
identity gate on every candidate). Searches go at HubSpot's search pace.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from lead_pipeline.crm.hubspot import (
    BATCH_SIZE,
    HUBSPOT,
    BatchOutcome,
    HubSpotBatch,
    HubSpotClient,
    HubSpotRecord,
)
from lead_pipeline.crm.hubspot_source import (
    HUBSPOT_DEFAULTS,
    RECORD_ID,
    CompanyPage,
    HubSpotReader,
    next_cursor,
)
from lead_pipeline.domains import domain_name, registrable_domain
from lead_pipeline.founders.identity import company_matches, name_tokens
from lead_pipeline.providers.errors import ProviderError
from lead_pipeline.providers.models import parse_answer
from lead_pipeline.providers.session import ProviderSession

DOMAIN_BATCH = 50  # two spellings each: HubSpot's IN takes 100 values
NAME_BATCH = 5  # one filter group each: HubSpot's search takes 5
NAME_PAGES = 3  # candidates read per name batch, 200 a page
LINGER = 0.02  # seconds a question waits for others to share its search
MATCH_PROPERTIES = ["name", "domain", "hubspot_owner_id", "lifecyclestage"]
SEARCH_PATH = "/crm/v3/objects/companies/search"


@dataclass(frozen=True)
class CrmMatch:
    """What the CRM knows of one company, or that it has none."""

    in_crm: bool
    crm_id: str | None = None
    owner: str | None = None
    lifecycle_stage: str | None = None
    matched_by: str | None = None  # "domain" or "name"

    def outputs(self) -> dict[str, Any]:
        return {
            "in_crm": self.in_crm,
            "crm_id": self.crm_id,
            "crm_owner": self.owner,
            "crm_lifecycle_stage": self.lifecycle_stage,
            "crm_matched_by": self.matched_by,
        }


NOT_IN_CRM = CrmMatch(in_crm=False)

K = TypeVar("K")
V = TypeVar("V")


class Batcher(Generic[K, V]):
    """Collects the keys asked within ``linger`` seconds (or ``size`` of them) and answers
    them with one ``answer`` call; the same key asked twice shares one answer."""

    def __init__(
        self, answer: Callable[[list[K]], Awaitable[dict[K, V]]], size: int, default: V
    ) -> None:
        self.answer = answer
        self.size = size
        self.default = default
        self._waiting: dict[K, list[asyncio.Future[V]]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def ask(self, key: K) -> V:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[V] = loop.create_future()
        self._waiting.setdefault(key, []).append(future)
        if len(self._waiting) >= self.size:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(LINGER, self._flush)
        return await future

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._waiting = self._waiting, {}
        if batch:
            task = asyncio.get_running_loop().create_task(self._settle(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _settle(self, batch: dict[K, list[asyncio.Future[V]]]) -> None:
        try:
            answers = await self.answer(list(batch))
        except BaseException as exc:
            for futures in batch.values():
                for future in futures:
                    if not future.done():
                        future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for key, futures in batch.items():
            for future in futures:
                if not future.done():
                    future.set_result(answers.get(key, self.default))


def row_domain(website: Any) -> str | None:
    """The registrable domain a row's website names, or None."""
    host = domain_name(website)
    return registrable_domain(host) if host else None


def _match(record: HubSpotRecord, how: str) -> CrmMatch:
    return CrmMatch(
        in_crm=True,
        crm_id=record.id,
        owner=record.properties.get("hubspot_owner_id") or None,
        lifecycle_stage=record.properties.get("lifecyclestage") or None,
        matched_by=how,
    )


def _oldest(records: Iterable[HubSpotRecord]) -> HubSpotRecord:
    return min(records, key=lambda r: int(r.id))


def _distinctive(name: str) -> str | None:
    """The word a name search looks for: its longest token (HubSpot tokenises names)."""
    tokens = name_tokens(name)
    return max(tokens, key=len) if tokens else None


class CompanyMatcher:
    """Matches companies to HubSpot, batching the questions of rows in flight."""

    def __init__(self, reader: HubSpotReader) -> None:
        self.reader = reader
        self.searches = 0
        self._domains: Batcher[str, CrmMatch] = Batcher(self._by_domains, DOMAIN_BATCH, NOT_IN_CRM)
        self._names: Batcher[str, CrmMatch] = Batcher(self._by_names, NAME_BATCH, NOT_IN_CRM)

    async def match(self, name: Any, website: Any) -> CrmMatch:
        """By the website's registrable domain; by name only when there is no website."""
        domain = row_domain(website)
        if domain is not None:
            return await self._domains.ask(domain)
        if isinstance(name, str) and _distinctive(name):
            return await self._names.ask(name.strip())
        return NOT_IN_CRM

    async def match_domains(self, domains: Sequence[str]) -> dict[str, CrmMatch]:
        """Many registrable domains at once (the sync), in batches."""
        found: dict[str, CrmMatch] = {}
        for start in range(0, len(domains), DOMAIN_BATCH):
            found |= await self._by_domains(list(domains[start : start + DOMAIN_BATCH]))
        return found

    async def _search(self, groups: list[dict[str, Any]], pages: int) -> list[HubSpotRecord]:
        records: list[HubSpotRecord] = []
        after: str | None = None
        for _ in range(pages):
            body: dict[str, Any] = {
                "filterGroups": groups,
                "properties": MATCH_PROPERTIES,
                "sorts": [{"propertyName": RECORD_ID, "direction": "ASCENDING"}],
                "limit": 200,
            }
            if after:
                body["after"] = after
            self.searches += 1
            answer = await self.reader._call("POST", SEARCH_PATH, body=body, search=True)
            page = parse_answer(CompanyPage, answer.data, HUBSPOT)
            records += page.results[:200]
            after = next_cursor(page)
            if not after:
                break
        return records

    async def _by_domains(self, domains: list[str]) -> dict[str, CrmMatch]:
        values = [v for d in domains for v in (d, f"www.{d}")]
        group = {"filters": [{"propertyName": "domain", "operator": "IN", "values": values}]}
        # 2 spellings of 50 domains, a few companies each at most: 5 pages is plenty.
        records = await self._search([group], pages=5)
        by_domain: dict[str, list[HubSpotRecord]] = {}
        for record in records:
            domain = row_domain(record.properties.get("domain"))
            if domain in domains:
                by_domain.setdefault(domain, []).append(record)
        return {d: _match(_oldest(rs), "domain") for d, rs in by_domain.items()}

    async def _by_names(self, names: list[str]) -> dict[str, CrmMatch]:
        groups = [
            {
                "filters": [
                    {"propertyName": "name", "operator": "CONTAINS_TOKEN", "value": word},
                ]
            }
            for word in dict.fromkeys(_distinctive(n) for n in names)
            if word
        ]
        records = await self._search(groups, pages=NAME_PAGES)
        found: dict[str, CrmMatch] = {}
        for name in names:
            same = [r for r in records if company_matches(r.properties.get("name"), name)]
            if same:
                found[name] = _match(_oldest(same), "name")
        return found


_MATCHERS: weakref.WeakKeyDictionary[ProviderSession, CompanyMatcher] = weakref.WeakKeyDictionary()


def session_matcher(session: ProviderSession) -> CompanyMatcher:
    """The session's matcher: every row of a shard shares its batches. HubSpot's documented
    pace applies where ``LEAD_PIPELINE_RATE_LIMITS`` sets none, as for the sync."""
    matcher = _MATCHERS.get(session)
    if matcher is None:
        for provider, limit in HUBSPOT_DEFAULTS.items():
            session.limits.setdefault(provider, limit)
        matcher = _MATCHERS[session] = CompanyMatcher(HubSpotReader(session))
    return matcher


async def update_companies(
    client: HubSpotClient, records: Sequence[tuple[str, str, dict[str, Any]]]
) -> BatchOutcome:
    """Update ``(key, HubSpot id, properties)`` by id, 100 a batch (``batch/update``);
    a 207 fails only the ids HubSpot names."""
    outcome = BatchOutcome()
    for start in range(0, len(records), BATCH_SIZE):
        batch = records[start : start + BATCH_SIZE]
        by_id = {crm_id: key for key, crm_id, _ in batch}
        body = {"inputs": [{"id": i, "properties": p} for _, i, p in batch]}
        try:
            answer = await client._post("/crm/v3/objects/companies/batch/update", body)
            done = parse_answer(HubSpotBatch, answer.data, HUBSPOT)
        except ProviderError as exc:
            outcome.errors |= {key: exc.message for key, _, _ in batch}
            continue
        for result in done.results:
            key = by_id.get(result.id)
            if key is not None:  # an id we did not send is never attached to a row
                outcome.ids[key] = result.id
        reason = next((e.text() for e in done.errors), "not confirmed by HubSpot")
        for key, _, _ in batch:
            if key not in outcome.ids:
                outcome.errors[key] = reason
    return outcome
