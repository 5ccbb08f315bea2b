"""A HubSpot stand-in: CRM v3 batch upserts, v4 default associations, its rate-limit headers,
and the reading side: the companies list, search, list memberships and batch read.

It keeps companies (by domain), contacts (by email) and associations in memory,
answers 200 when a whole batch is written and 207 Multi-Status with per-input
``errors`` when some inputs are refused (``reject`` maps a key to the message),
checks ``Authorization: Bearer``, sends ``X-HubSpot-RateLimit-*`` on every
answer and, past ``per_window`` requests in ``window`` seconds, answers 429
with ``policyName: TEN_SECONDLY_ROLLING`` and a Retry-After.

Reading, as documented (developers.hubspot.com, CRM v3 objects, search and lists):

- ``GET /crm/v3/objects/companies?limit=&after=&properties=a,b``: at most 100 per
  page, in id order, ``paging.next.after`` while more remain.
- ``POST /crm/v3/objects/companies/search`` with ``filterGroups`` (OR of groups,
  AND within one; operators EQ, NEQ, LT, LTE, GT, GTE, IN, NOT_IN, HAS_PROPERTY,
  NOT_HAS_PROPERTY, CONTAINS_TOKEN), ``sorts``, ``properties``, ``limit`` (at
  most 200) and ``after``; ``total`` and ``paging.next.after``. Like HubSpot, no
  query pages past its 10,000th result (a 400), and search has its own pace
  (``search_per_second``, 4 by default) answered with a 429 beyond it.
- ``GET /crm/v3/lists/{listId}/memberships?limit=&after=``: record ids in
  ascending order, at most 250 per page; an unknown list is a 404.
- ``POST /crm/v3/objects/companies/batch/read`` with ``inputs`` of ids (at most
  100): 200, or 207 with an ``OBJECT_NOT_FOUND`` error naming the missing ids;
  ``.../batch/update`` with ``inputs`` of ``{id, properties}`` answers the same way.

``throttle_from`` makes every request from that number on a 429 (a storm no
retry outlasts), ``search_pages`` counts the search calls answered.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from typing import Any

from lead_pipeline_tests.servers.base import RecordedRequest, Reply, StubServer

HUBSPOT_TOKEN = "pat-na1-test-0123456789abcdef"
UPSERT = "/crm/v3/objects/{}/batch/upsert"
CREATE = "/crm/v3/objects/{}/batch/create"
# Properties whose values HubSpot keeps unique, which alone may be a batch upsert's
# ``idProperty`` (hs_object_id aside): a contact's email. A company's domain is not one
# (HubSpot lets two companies share a domain), so companies cannot be upserted by it.
UNIQUE_PROPERTY = {"contacts": "email"}
ASSOCIATE = "/crm/v4/associations/contacts/companies/batch/associate/default"
ID_PROPERTY = {"companies": "domain", "contacts": "email"}
COMPANIES_PATH = "/crm/v3/objects/companies"
SEARCH = "/crm/v3/objects/companies/search"
BATCH_READ = "/crm/v3/objects/companies/batch/read"
BATCH_UPDATE = "/crm/v3/objects/companies/batch/update"
MEMBERSHIPS = "/crm/v3/lists/{}/memberships"
DEFAULT_COMPANY_PROPERTIES = ("name", "domain", "createdate", "hs_lastmodifieddate")
SEARCH_CAP = 10_000  # HubSpot's search pages no further than this many results


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode()


def _offset(after: Any) -> int:
    if after in (None, ""):
        return 0
    return int(base64.urlsafe_b64decode(str(after).encode()).decode())


def _batch_reply(
    results: list[dict[str, Any]], errors: list[dict[str, Any]], headers: dict[str, str], *, ok: int
) -> Reply:
    """A batch endpoint's answer: ``ok`` with every result, or 207 with the refused
    inputs as ``errors`` beside the results."""
    answer: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": "2026-12-01T00:00:00Z",
        "completedAt": "2026-12-01T00:00:01Z",
    }
    if errors:
        answer |= {"errors": errors, "numErrors": len(errors)}
    return Reply(status=207 if errors else ok, json=answer, headers=headers)


def _error(status: int, message: str, category: str = "VALIDATION_ERROR") -> Reply:
    return Reply(status=status, json={"status": "error", "message": message, "category": category})


class HubSpotServer(StubServer):
    def __init__(
        self,
        *,
        token: str = HUBSPOT_TOKEN,
        per_window: int = 100,
        window: float = 10.0,
        search_per_second: int = 4,
        **knobs: Any,
    ) -> None:
        super().__init__(**knobs)
        self.token = token
        self.per_window = per_window
        self.window = window
        self.objects: dict[str, dict[str, dict[str, Any]]] = {"companies": {}, "contacts": {}}
        self.associations: set[tuple[str, str]] = set()  # (contact id, company id)
        self.reject: dict[str, str] = {}  # key -> validation message (a 207 error)
        self.fail_associations: set[str] = set()  # contact ids whose association errors
        self.throttled = 0
        self._next_id = 1000
        self._calls: list[float] = []
        self._guard = threading.Lock()
        self.search_per_second = search_per_second
        self._searches: list[float] = []
        self.search_pages = 0
        self.lists: dict[str, list[str]] = {}  # list id -> record ids
        self.throttle_from: int | None = None
        self._order: list[dict[str, Any]] | None = None
        self._served = 0

    def env(self) -> dict[str, str]:
        return {"HUBSPOT_BASE_URL": self.base_url, "HUBSPOT_ACCESS_TOKEN": self.token}

    def _headers(self) -> tuple[dict[str, str], bool]:
        with self._guard:
            now = time.monotonic()
            self._calls = [t for t in self._calls if now - t < self.window]
            over = len(self._calls) >= self.per_window
            if not over:
                self._calls.append(now)
            remaining = max(0, self.per_window - len(self._calls))
        return {
            "X-HubSpot-RateLimit-Max": str(self.per_window),
            "X-HubSpot-RateLimit-Remaining": str(remaining),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(self.window * 1000)),
        }, over

    # ---- companies the tests put in the portal ------------------------------

    def add_company(self, **properties: Any) -> str:
        """A company with these properties (keyed by domain when it has one); its id."""
        record_id = self._new_id()
        domain = str(properties.get("domain") or "").lower()
        key = domain or f"#{record_id}"
        self.objects["companies"][key] = {
            "id": record_id,
            "properties": {**properties, "hs_lastmodifieddate": "2026-12-01T00:00:00Z"},
        }
        return record_id

    def update_company(self, record_id: str, **properties: Any) -> None:
        record = self._by_id()[record_id]
        record["properties"] |= properties
        record["properties"]["hs_lastmodifieddate"] = "2026-12-02T00:00:00Z"

    def _by_id(self) -> dict[str, dict[str, Any]]:
        return {r["id"]: r for r in self.objects["companies"].values()}

    def _sorted(self) -> list[dict[str, Any]]:
        """Companies in id order; kept until one is added (a 100,000-company portal is
        paged a thousand times)."""
        companies = self.objects["companies"]
        if self._order is None or len(self._order) != len(companies):
            self._order = sorted(companies.values(), key=lambda r: int(r["id"]))
        return self._order

    def _new_id(self) -> str:
        with self._guard:
            self._next_id += 1
            return str(self._next_id)

    def handle(self, request: RecordedRequest) -> Reply:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return Reply(
                status=401,
                json={
                    "status": "error",
                    "message": "Authentication credentials not found. "
                    f"Got {request.headers.get('authorization')}",
                    "category": "INVALID_AUTHENTICATION",
                },
            )
        with self._guard:
            self._served += 1
            storm = self.throttle_from is not None and self._served >= self.throttle_from
        headers, over = self._headers()
        if over or storm:
            with self._guard:
                self.throttled += 1
            return Reply(
                status=429,
                headers={**headers, "Retry-After": "1"},
                json={
                    "status": "error",
                    "message": "You have reached your ten_secondly_rolling limit.",
                    "errorType": "RATE_LIMIT",
                    "policyName": "TEN_SECONDLY_ROLLING",
                },
            )
        if request.method == "POST" and request.path == SEARCH:
            return self._search(request.json or {}, headers)
        if request.method == "GET" and request.path == COMPANIES_PATH:
            return self._list_companies(request, headers)
        if request.method == "POST" and request.path == BATCH_UPDATE:
            return self._batch_update(request.json or {}, headers)
        if request.method == "POST" and request.path == BATCH_READ:
            return self._batch_read(request.json or {}, headers)
        parts = request.path.split("/")
        if request.method == "GET" and request.path == MEMBERSHIPS.format(parts[-2]):
            return self._memberships(parts[-2], request, headers)
        for object_type in ("companies", "contacts"):
            if request.method == "POST" and request.path == UPSERT.format(object_type):
                return self._upsert(object_type, request.json or {}, headers)
        if request.method == "POST" and request.path == CREATE.format("companies"):
            return self._create_companies(request.json or {}, headers)
        if request.method == "POST" and request.path == ASSOCIATE:
            return self._associate(request.json or {}, headers)
        return Reply(status=404, json={"status": "error", "message": "not found"})

    def _upsert(self, object_type: str, body: dict[str, Any], headers: dict[str, str]) -> Reply:
        inputs = body.get("inputs")
        if not isinstance(inputs, list) or len(inputs) > 100:
            return Reply(
                status=400,
                json={
                    "status": "error",
                    "category": "VALIDATION_ERROR",
                    "message": "inputs: between 1 and 100 required",
                },
            )
        results, errors = [], []
        store = self.objects[object_type]
        for item in inputs:
            if item.get("idProperty") != UNIQUE_PROPERTY.get(object_type):
                return Reply(
                    status=400,
                    json={
                        "status": "error",
                        "category": "VALIDATION_ERROR",
                        "message": f"idProperty {item.get('idProperty')!r} is not a unique "
                        f"property of {object_type}; upsert needs one",
                    },
                )
            key = str(item.get("id") or "").lower()
            if key in self.reject:
                errors.append(
                    {
                        "status": "error",
                        "category": "VALIDATION_ERROR",
                        "message": self.reject[key],
                        "context": {"ids": [key]},
                    }
                )
                continue
            existing = store.get(key)
            new = existing is None
            if new:
                existing = store[key] = {"id": self._new_id(), "properties": {}}
            existing["properties"] |= dict(item.get("properties") or {})
            existing["properties"][ID_PROPERTY[object_type]] = key
            results.append(
                {
                    "id": existing["id"],
                    "properties": dict(existing["properties"]),
                    "new": new,
                    "archived": False,
                    "createdAt": "2026-12-01T00:00:00Z",
                    "updatedAt": "2026-12-01T00:00:00Z",
                }
            )
        return _batch_reply(results, errors, headers, ok=200)

    def _create_companies(self, body: dict[str, Any], headers: dict[str, str]) -> Reply:
        """``batch/create``: a new company per input, whatever the portal holds (HubSpot
        does not deduplicate companies created through the API). 201, or 207 with the
        refused inputs (``reject``, by domain) as errors."""
        inputs = body.get("inputs")
        if not isinstance(inputs, list) or not 1 <= len(inputs) <= 100:
            return _error(400, "inputs: between 1 and 100 required")
        results, errors = [], []
        store = self.objects["companies"]
        for item in inputs:
            properties = dict(item.get("properties") or {})
            domain = str(properties.get("domain") or "").lower()
            if domain in self.reject:
                errors.append(
                    {
                        "status": "error",
                        "category": "VALIDATION_ERROR",
                        "message": self.reject[domain],
                    }
                )
                continue
            record_id = self._new_id()
            key = domain if domain and domain not in store else f"{domain}#{record_id}"
            store[key] = {"id": record_id, "properties": properties}
            results.append(
                {
                    "id": record_id,
                    "properties": dict(properties),
                    "archived": False,
                    "createdAt": "2026-12-01T00:00:00Z",
                    "updatedAt": "2026-12-01T00:00:00Z",
                }
            )
        return _batch_reply(results, errors, headers, ok=201)

    def _associate(self, body: dict[str, Any], headers: dict[str, str]) -> Reply:
        results, errors = [], []
        for item in body.get("inputs") or []:
            contact, company = str(item["from"]["id"]), str(item["to"]["id"])
            if contact in self.fail_associations:
                errors.append(
                    {
                        "status": "error",
                        "category": "OBJECT_NOT_FOUND",
                        "message": f"contact {contact} not found",
                        "context": {},
                    }
                )
                continue
            self.associations.add((contact, company))
            results.append(
                {
                    "from": {"id": contact},
                    "to": {"id": company},
                    "associationSpec": {
                        "associationCategory": "HUBSPOT_DEFINED",
                        "associationTypeId": 279,
                    },
                }
            )
        answer: dict[str, Any] = {"status": "COMPLETE", "results": results}
        if errors:
            answer |= {"errors": errors, "numErrors": len(errors)}
        return Reply(status=207 if errors else 200, json=answer, headers=headers)

    # ---- reading -------------------------------------------------------------

    def _record(self, record: dict[str, Any], wanted: list[str]) -> dict[str, Any]:
        names = list(dict.fromkeys([*DEFAULT_COMPANY_PROPERTIES, *wanted]))
        properties = record["properties"]
        shown = {n: (None if properties.get(n) is None else str(properties[n])) for n in names}
        shown["hs_object_id"] = record["id"]
        return {
            "id": record["id"],
            "properties": shown,
            "createdAt": "2026-12-01T00:00:00Z",
            "updatedAt": properties.get("hs_lastmodifieddate"),
            "archived": False,
        }

    def _page(
        self, records: list[dict[str, Any]], offset: int, limit: int, wanted: list[str]
    ) -> dict[str, Any]:
        page = records[offset : offset + limit]
        answer: dict[str, Any] = {"results": [self._record(r, wanted) for r in page]}
        if offset + limit < len(records):
            after = _cursor(offset + limit)
            answer["paging"] = {"next": {"after": after, "link": f"?after={after}"}}
        return answer

    def _list_companies(self, request: RecordedRequest, headers: dict[str, str]) -> Reply:
        limit = int(request.param("limit") or 10)
        if not 1 <= limit <= 100:
            return _error(400, "limit must be between 1 and 100")
        wanted = [p for p in (request.param("properties") or "").split(",") if p]
        answer = self._page(self._sorted(), _offset(request.param("after")), limit, wanted)
        return Reply(json=answer, headers=headers)

    def _matches(self, record: dict[str, Any], flt: dict[str, Any]) -> bool:
        name, op = flt.get("propertyName"), flt.get("operator", "EQ")
        value = record["properties"].get(name) if name != "hs_object_id" else record["id"]
        text = None if value is None else str(value)
        if op == "HAS_PROPERTY":
            return text not in (None, "")
        if op == "NOT_HAS_PROPERTY":
            return text in (None, "")
        if text is None:
            return op in ("NEQ", "NOT_IN")
        if op in ("IN", "NOT_IN"):
            inside = text.lower() in {str(v).lower() for v in flt.get("values") or []}
            return inside if op == "IN" else not inside
        if op == "CONTAINS_TOKEN":
            # HubSpot tokenises on what is not a letter or digit: "Initech, LLC" has "initech".
            return str(flt.get("value", "")).lower() in re.findall(r"\w+", text.lower())
        wanted = str(flt.get("value", ""))
        if op in ("EQ", "NEQ"):
            equal = text.lower() == wanted.lower()
            return equal if op == "EQ" else not equal
        try:
            left, right = float(text), float(wanted)
        except ValueError:
            left, right = text, wanted  # type: ignore[assignment]
        return {
            "LT": left < right,
            "LTE": left <= right,
            "GT": left > right,
            "GTE": left >= right,
        }.get(op, False)

    def _search(self, body: dict[str, Any], headers: dict[str, str]) -> Reply:
        with self._guard:
            now = time.monotonic()
            self._searches = [t for t in self._searches if now - t < 1.0]
            if len(self._searches) >= self.search_per_second:
                self.throttled += 1
                return Reply(
                    status=429,
                    headers={"Retry-After": "1"},
                    json={
                        "status": "error",
                        "message": "You have reached your secondly limit.",
                        "errorType": "RATE_LIMIT",
                        "policyName": "SECONDLY",
                    },
                )
            self._searches.append(now)
            self.search_pages += 1
        limit = int(body.get("limit") or 10)
        if not 1 <= limit <= 200:
            return _error(400, "limit must be between 1 and 200")
        groups = body.get("filterGroups") or []
        if len(groups) > 5 or sum(len(g.get("filters") or []) for g in groups) > 18:
            return _error(400, "too many filters: at most 5 groups and 18 filters")
        records = [
            r
            for r in self._sorted()
            if not groups
            or any(all(self._matches(r, f) for f in g.get("filters") or []) for g in groups)
        ]
        for sort in reversed(body.get("sorts") or []):
            prop = sort.get("propertyName")
            records.sort(
                key=lambda r, p=prop: (
                    int(r["id"]) if p == "hs_object_id" else str(r["properties"].get(p) or "")
                ),
                reverse=sort.get("direction") == "DESCENDING",
            )
        offset = _offset(body.get("after"))
        if offset + limit > SEARCH_CAP:
            return _error(400, f"paging past {SEARCH_CAP} results is not supported")
        answer = self._page(records, offset, limit, list(body.get("properties") or []))
        if offset + limit >= SEARCH_CAP:
            answer.pop("paging", None)  # HubSpot offers no cursor past the cap
        answer["total"] = len(records)
        return Reply(json=answer, headers=headers)

    def _memberships(
        self, list_id: str, request: RecordedRequest, headers: dict[str, str]
    ) -> Reply:
        if list_id not in self.lists:
            return _error(404, f"List does not exist with ID {list_id}.", "OBJECT_NOT_FOUND")
        limit = int(request.param("limit") or 100)
        if not 1 <= limit <= 250:
            return _error(400, "limit must be between 1 and 250")
        ids = sorted(self.lists[list_id], key=int)
        offset = _offset(request.param("after"))
        answer: dict[str, Any] = {
            "results": [
                {"recordId": i, "membershipTimestamp": "2026-12-01T00:00:00Z"}
                for i in ids[offset : offset + limit]
            ]
        }
        if offset + limit < len(ids):
            after = _cursor(offset + limit)
            answer["paging"] = {"next": {"after": after, "link": f"?after={after}"}}
        return Reply(json=answer, headers=headers)

    def _batch_read(self, body: dict[str, Any], headers: dict[str, str]) -> Reply:
        inputs = body.get("inputs")
        if not isinstance(inputs, list) or not 1 <= len(inputs) <= 100:
            return _error(400, "inputs: between 1 and 100 required")
        by_id = self._by_id()
        wanted = list(body.get("properties") or [])
        results, missing = [], []
        for item in inputs:
            record = by_id.get(str(item.get("id")))
            if record is None:
                missing.append(str(item.get("id")))
            else:
                results.append(self._record(record, wanted))
        answer: dict[str, Any] = {"status": "COMPLETE", "results": results}
        if missing:
            answer |= {
                "numErrors": 1,
                "errors": [
                    {
                        "status": "error",
                        "category": "OBJECT_NOT_FOUND",
                        "message": "Could not get some COMPANY objects, they may be deleted "
                        "or not exist. Check that ids are valid.",
                        "context": {"ids": missing},
                    }
                ],
            }
        return Reply(status=207 if missing else 200, json=answer, headers=headers)

    def _batch_update(self, body: dict[str, Any], headers: dict[str, str]) -> Reply:
        inputs = body.get("inputs")
        if not isinstance(inputs, list) or not 1 <= len(inputs) <= 100:
            return _error(400, "inputs: between 1 and 100 required")
        by_id = self._by_id()
        results, missing = [], []
        for item in inputs:
            record = by_id.get(str(item.get("id")))
            if record is None:
                missing.append(str(item.get("id")))
                continue
            record["properties"] |= dict(item.get("properties") or {})
            results.append(self._record(record, list(item.get("properties") or {})))
        answer: dict[str, Any] = {"status": "COMPLETE", "results": results}
        if missing:
            answer |= {
                "numErrors": 1,
                "errors": [
                    {
                        "status": "error",
                        "category": "OBJECT_NOT_FOUND",
                        "message": "Could not update some COMPANY objects: not found",
                        "context": {"ids": missing},
                    }
                ],
            }
        return Reply(status=207 if missing else 200, json=answer, headers=headers)
