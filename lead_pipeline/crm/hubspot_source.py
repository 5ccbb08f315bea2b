"""HubSpot companies as a lead list: read a HubSpot list, a property filter or every company.

HubSpot's reading APIs, as documented (developers.hubspot.com, CRM v3):

- every company: ``GET /crm/v3/objects/companies?limit=100&properties=...&after=``,
  100 per page, ``paging.next.after`` while more remain;
- a filter: ``POST /crm/v3/objects/companies/search`` with ``filterGroups`` (the
  filters of one group are ANDed), ``limit`` up to 200 and ``after``. Search runs
  at about 4 requests per second (its own pace, ``hubspot_search``) and pages no
  further than 10,000 results per query, so results are sorted by
  ``hs_object_id`` and, before a query would cross that cap, a new one starts
  after the last id seen (``hs_object_id GT``): every record, in any portal size;
- a list: ``GET /crm/v3/lists/{listId}/memberships`` (up to 250 record ids a
  page), then ``POST /crm/v3/objects/companies/batch/read`` (up to 100 ids); a
  member deleted since is an ``OBJECT_NOT_FOUND`` error in a 207, and is left out.

Every call goes through the shared request function (``providers.http``) under
the ``hubspot`` policy: the burst pace, the 429 + Retry-After retries, the pause
when ``X-HubSpot-RateLimit-Remaining`` runs out.

All or nothing: pages are staged in an anonymous temporary file as they arrive
(never all in memory), and only once the last page is read are the rows handed
to the store, in the one import transaction file imports use (``import_rows``:
added, updated, unchanged; staleness then re-runs only rows whose fields
changed). A 429 storm, a network failure or ``kill -9`` before that leaves the
list as it was, and the import can simply run again.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl, urlencode

from lead_pipeline.crm.hubspot import (
    DEFAULT_LIMIT,
    HUBSPOT,
    HubSpotClient,
    HubSpotId,
    HubSpotRecord,
    hubspot_token,
)
from lead_pipeline.leads.errors import LeadFileError
from lead_pipeline.leads.fields import FieldMapping
from lead_pipeline.leads.importer import choose_mapping, describe_id_rule
from lead_pipeline.leads.outputs import declared_outputs
from lead_pipeline.providers.errors import ProviderError
from lead_pipeline.providers.http import HttpAnswer, request_json
from lead_pipeline.providers.models import Answer, Text, parse_answer
from lead_pipeline.providers.ratelimit import Limit
from lead_pipeline.providers.session import ProviderSession
from lead_pipeline.settings import get_settings
from lead_pipeline.store import ImportReport, LeadStore, check_name, imported_name

HUBSPOT_SEARCH = "hubspot_search"
# HubSpot documents about 4 search requests per second per portal.
SEARCH_LIMIT = Limit(requests_per_second=4.0, max_in_flight=1)
# HubSpot's documented pace, for the providers LEAD_PIPELINE_RATE_LIMITS leaves unpaced.
HUBSPOT_DEFAULTS = {HUBSPOT: DEFAULT_LIMIT, HUBSPOT_SEARCH: SEARCH_LIMIT}
RECORD_ID = "hs_object_id"
ID_RULE = f"column:{RECORD_ID}"
SOURCE_PREFIX = "hubspot:"
LIST_PAGE = 100  # GET /crm/v3/objects/companies
SEARCH_PAGE = 200  # POST .../search
SEARCH_CAP = 10_000  # search pages no further than this many results per query
MEMBERS_PAGE = 250  # GET /crm/v3/lists/{id}/memberships
READ_BATCH = 100  # POST .../batch/read
# What a lead list reads from a company: our canonical fields' properties, and the
# few a sales team filters on. ``--property`` adds more.
DEFAULT_PROPERTIES = (
    "name",
    "domain",
    "website",
    "description",
    "industry",
    "numberofemployees",
    "country",
    "city",
    "linkedin_company_page",
    "lifecyclestage",
    "hubspot_owner_id",
)
# HubSpot's bookkeeping, which changes without the company changing.
LEFT_OUT = frozenset({"createdate", "hs_lastmodifieddate"})
# ``domain`` is HubSpot's company identity; its ``website`` property is often empty.
DEFAULT_MAP = {"website": "domain"}
OPERATORS = (  # longest first, so ``>=`` is not read as ``>``
    ("!=", "NEQ"),
    (">=", "GTE"),
    ("<=", "LTE"),
    ("=", "EQ"),
    (">", "GT"),
    ("<", "LT"),
)
MAX_FILTERS = 5  # HubSpot allows 6 per group; one is kept for the id cursor


@dataclass(frozen=True)
class CompanySelection:
    """Which companies: a HubSpot list, property filters (ANDed), or every company."""

    list_id: str | None = None
    filters: tuple[str, ...] = ()
    properties: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.list_id is not None and self.filters:
            raise ValueError("give a HubSpot list or filters, not both")
        if self.list_id is not None and not self.list_id.isdigit():
            raise ValueError(f"--hubspot-list {self.list_id!r}: a HubSpot list id is a number")
        if len(self.filters) > MAX_FILTERS:
            raise ValueError(f"at most {MAX_FILTERS} --filter options (HubSpot's limit)")
        for text in self.filters:
            parse_filter(text)

    def describe(self) -> str:
        if self.list_id is not None:
            return f"HubSpot list {self.list_id}"
        if self.filters:
            return "HubSpot companies where " + " and ".join(self.filters)
        return "every HubSpot company"

    def to_source(self) -> str:
        """What the list's ``source`` records, so a refresh reads the same companies."""
        pairs = [("list", self.list_id)] if self.list_id is not None else []
        pairs += [("filter", f) for f in self.filters]
        pairs += [("property", p) for p in self.properties]
        return SOURCE_PREFIX + urlencode(pairs)

    @classmethod
    def from_source(cls, source: str | None) -> CompanySelection | None:
        """The selection a list was imported with; None for a list from a file."""
        if not source or not source.startswith(SOURCE_PREFIX):
            return None
        pairs = parse_qsl(source.removeprefix(SOURCE_PREFIX), keep_blank_values=True)
        lists = [v for k, v in pairs if k == "list"]
        return cls(
            list_id=lists[0] if lists else None,
            filters=tuple(v for k, v in pairs if k == "filter"),
            properties=tuple(v for k, v in pairs if k == "property"),
        )


def parse_filter(text: str) -> dict[str, Any]:
    """``lifecyclestage=lead`` -> a search filter. ``PROP=*`` has a value, ``PROP!=*`` none."""
    for symbol, operator in OPERATORS:
        name, sep, value = text.partition(symbol)
        if sep and name.strip():
            name, value = name.strip(), value.strip()
            if value == "*" and operator in ("EQ", "NEQ"):
                kind = "HAS_PROPERTY" if operator == "EQ" else "NOT_HAS_PROPERTY"
                return {"propertyName": name, "operator": kind}
            return {"propertyName": name, "operator": operator, "value": value}
    raise ValueError(
        f"--filter {text!r}: write PROPERTY=VALUE (or !=, >, >=, <, <=; PROPERTY=* for "
        "any value), e.g. lifecyclestage=lead"
    )


class HubSpotReader(HubSpotClient):
    """The reading calls, paged with the cursors HubSpot returns."""

    def __init__(self, session: ProviderSession) -> None:
        super().__init__(session)
        self.search_policy = session.policy(HUBSPOT_SEARCH)
        self.missing = 0  # list members HubSpot no longer has
        self.queries = 0  # search queries started (one per 10,000 results)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        search: bool = False,
    ) -> HttpAnswer:
        answer = await request_json(
            self.session.client,
            self.search_policy if search else self.policy,
            method,
            f"{self.base}{path}",
            headers={"Authorization": f"Bearer {self.token.get_secret_value()}"},
            json_body=body,
            params=params,
            secret=self.token,
            key_env="HUBSPOT_ACCESS_TOKEN",
            timeouts=self.session.timeouts,
        )
        self._pace(answer)
        return answer

    async def pages(self, selection: CompanySelection) -> AsyncIterator[list[HubSpotRecord]]:
        """The selected companies, a page at a time, as HubSpot's ``{id, properties}``."""
        properties = list(dict.fromkeys([*DEFAULT_PROPERTIES, *selection.properties]))
        if selection.list_id is not None:
            source = self._list_members(selection.list_id, properties)
        elif selection.filters:
            source = self._search([parse_filter(f) for f in selection.filters], properties)
        else:
            source = self._every_company(properties)
        async for page in source:
            yield page

    async def _every_company(self, properties: list[str]) -> AsyncIterator[list[HubSpotRecord]]:
        after: str | None = None
        while True:
            params = {"limit": LIST_PAGE, "properties": ",".join(properties), "archived": "false"}
            if after:
                params["after"] = after
            answer = await self._call("GET", "/crm/v3/objects/companies", params=params)
            page = parse_answer(CompanyPage, answer.data, HUBSPOT)
            yield list(page.results)
            after = next_cursor(page)
            if after is None:
                return

    async def _search(
        self, filters: list[dict[str, Any]], properties: list[str]
    ) -> AsyncIterator[list[HubSpotRecord]]:
        last_id: str | None = None
        while True:  # one query per 10,000 results, each after the last id seen
            self.queries += 1
            group = list(filters)
            if last_id is not None:
                group.append({"propertyName": RECORD_ID, "operator": "GT", "value": last_id})
            after: str | None = None
            served = 0
            while True:
                body: dict[str, Any] = {
                    "filterGroups": [{"filters": group}],
                    "sorts": [{"propertyName": RECORD_ID, "direction": "ASCENDING"}],
                    "properties": properties,
                    "limit": SEARCH_PAGE,
                }
                if after:
                    body["after"] = after
                path = "/crm/v3/objects/companies/search"
                answer = await self._call("POST", path, body=body, search=True)
                found = parse_answer(CompanyPage, answer.data, HUBSPOT)
                page = list(found.results[:SEARCH_PAGE])
                if page:
                    yield page
                    last_id = page[-1].id
                served += SEARCH_PAGE
                after = next_cursor(found)
                if after is None or not page:
                    if page and served >= SEARCH_CAP:
                        break  # the cap, not the end: a new query after last_id
                    return
                if served + SEARCH_PAGE > SEARCH_CAP:
                    break

    async def _list_members(
        self, list_id: str, properties: list[str]
    ) -> AsyncIterator[list[HubSpotRecord]]:
        after: str | None = None
        while True:
            params: dict[str, Any] = {"limit": MEMBERS_PAGE}
            if after:
                params["after"] = after
            path = f"/crm/v3/lists/{list_id}/memberships"
            answer = await self._call("GET", path, params=params)
            members = parse_answer(MembershipPage, answer.data, HUBSPOT)
            ids = [m.recordId for m in members.results[:MEMBERS_PAGE]]
            for start in range(0, len(ids), READ_BATCH):
                yield await self._read(ids[start : start + READ_BATCH], properties)
            after = next_cursor(members)
            if after is None:
                return

    async def _read(self, ids: Sequence[str], properties: list[str]) -> list[HubSpotRecord]:
        body = {"properties": properties, "inputs": [{"id": i} for i in ids]}
        answer = await self._call("POST", "/crm/v3/objects/companies/batch/read", body=body)
        asked = set(ids)
        # Only records asked for: an answer naming another id is never attached to the list.
        found = [
            r for r in parse_answer(CompanyPage, answer.data, HUBSPOT).results if r.id in asked
        ]
        self.missing += len(asked) - len({r.id for r in found})
        return found


class NextPage(Answer):
    after: Text


class Paging(Answer):
    next: NextPage | None = None


class CompanyPage(Answer):
    """A page of companies: the objects list, a search, a batch read (200 or 207)."""

    results: list[HubSpotRecord]
    paging: Paging | None = None


class Membership(Answer):
    recordId: HubSpotId


class MembershipPage(Answer):
    results: list[Membership]
    paging: Paging | None = None


def next_cursor(page: CompanyPage | MembershipPage) -> str | None:
    """The ``after`` cursor of the next page; None on the last."""
    following = page.paging.next if page.paging is not None else None
    return following.after if following is not None and following.after else None


@dataclass
class Staging:
    """Rows written to an anonymous temporary file as pages arrive, read back once."""

    renames: Mapping[str, str]
    handle: IO[bytes] = field(default_factory=lambda: tempfile.TemporaryFile())  # noqa: SIM115
    seen: set[str] = field(default_factory=set)
    columns: dict[str, None] = field(default_factory=dict)
    repeated: int = 0

    def add(self, record: HubSpotRecord) -> None:
        record_id = record.id
        if record_id in self.seen:
            self.repeated += 1
            return
        self.seen.add(record_id)
        fields: dict[str, Any] = {RECORD_ID: record_id}
        for name, value in record.properties.items():
            if name in LEFT_OUT or name == RECORD_ID or value in (None, ""):
                continue
            fields[self.renames.get(name, name)] = value
        self.columns.update(dict.fromkeys(fields))
        line = json.dumps([record_id, fields], ensure_ascii=False, separators=(",", ":"))
        self.handle.write(line.encode() + b"\n")

    def rows(self) -> Iterator[tuple[str, dict[str, Any]]]:
        self.handle.seek(0)
        for line in self.handle:
            row_id, fields = json.loads(line)
            yield row_id, fields


def _renames(properties: Sequence[str], existing_outputs: Sequence[str]) -> dict[str, str]:
    """Properties named like a workflow output are kept as ``imported_<name>``, as in files."""
    outputs = set(declared_outputs()) | set(existing_outputs)
    taken = outputs | set(properties)
    renames: dict[str, str] = {}
    for name in properties:
        if name in outputs:
            renames[name] = imported_name(name, taken)
            taken.add(renames[name])
    return renames


async def import_hubspot(
    store: LeadStore,
    name: str,
    selection: CompanySelection,
    *,
    field_map: Mapping[str, str | None] | None = None,
    prune: bool = False,
    session: ProviderSession | None = None,
) -> ImportReport:
    """Create or update lead list ``name`` from HubSpot companies; all or nothing."""
    check_name(name)
    where = Path(selection.describe())
    existing = store.list_info(name)
    if existing is not None and existing.id_rule not in (None, ID_RULE):
        raise LeadFileError(
            where,
            f"lead list {name!r} takes its ids from {describe_id_rule(existing.id_rule)}; "
            f"HubSpot rows are keyed by {RECORD_ID}, so every row would get a new id and the "
            "list would double. Import into a new list",
        )
    kept = FieldMapping.from_json(existing.field_map if existing else None).overrides()
    wanted = {**DEFAULT_MAP, **kept, **dict(field_map or {})}
    mapped = [c for c in wanted.values() if c]
    # Columns a --map names are read too; ``source`` keeps only what the user asked for.
    reading = CompanySelection(
        selection.list_id,
        selection.filters,
        tuple(dict.fromkeys([*selection.properties, *mapped])),
    )
    outputs = store.output_columns(name) if existing else []
    properties = [RECORD_ID, *dict.fromkeys([*DEFAULT_PROPERTIES, *reading.properties])]
    staging = Staging(renames=_renames(properties, outputs))
    try:
        if session is not None:
            reader = await _stage(session, reading, staging)
        else:
            config = get_settings()
            hubspot_token(config)  # no token: say so before anything else
            async with ProviderSession.configured(config, defaults=HUBSPOT_DEFAULTS) as own:
                reader = await _stage(own, reading, staging)
        # Map over every property asked for, not only those some company has a value for.
        columns = list(dict.fromkeys([*(staging.renames.get(p, p) for p in properties)]))
        mapping = choose_mapping(where, columns, existing, {**DEFAULT_MAP, **(field_map or {})})
        report = store.import_rows(
            name,
            staging.rows(),
            source=selection.to_source(),
            prune=prune,
            field_map=mapping.to_json(),
            id_rule=ID_RULE,
        )
    except ProviderError as exc:
        raise LeadFileError(
            where, f"{exc}; nothing was imported, lead list {name!r} is as it was"
        ) from None
    finally:
        staging.handle.close()
    if reader.missing:
        report.notes.append(
            f"{reader.missing} list member(s) no longer exist in HubSpot and were left out"
        )
    if reader.queries > 1:
        report.notes.append(
            f"read in {reader.queries} search queries (HubSpot pages at most "
            f"{SEARCH_CAP:,} results per query)"
        )
    if staging.renames:
        pairs = ", ".join(f"{old} -> {new}" for old, new in staging.renames.items())
        report.notes.append(f"kept properties named like workflow outputs as {pairs}")
    return report


async def _stage(
    session: ProviderSession, selection: CompanySelection, staging: Staging
) -> HubSpotReader:
    reader = HubSpotReader(session)
    async for page in reader.pages(selection):
        for record in page:
            staging.add(record)
    return reader
