"""A HubSpot stand-in: CRM v3 batch upserts, v4 default associations, its rate-limit headers.

It keeps companies (by domain), contacts (by email) and associations in memory,
answers 200 when a whole batch is written and 207 Multi-Status with per-input
``errors`` when some inputs are refused (``reject`` maps a key to the message),
checks ``Authorization: Bearer``, sends ``X-HubSpot-RateLimit-*`` on every
answer and, past ``per_window`` requests in ``window`` seconds, answers 429
with ``policyName: TEN_SECONDLY_ROLLING`` and a Retry-After.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from lead_pipeline_tests.servers.base import RecordedRequest, Reply, StubServer

HUBSPOT_TOKEN = "pat-na1-test-0123456789abcdef"
UPSERT = "/crm/v3/objects/{}/batch/upsert"
ASSOCIATE = "/crm/v4/associations/contacts/companies/batch/associate/default"
ID_PROPERTY = {"companies": "domain", "contacts": "email"}


class HubSpotServer(StubServer):
    def __init__(
        self,
        *,
        token: str = HUBSPOT_TOKEN,
        per_window: int = 100,
        window: float = 10.0,
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
        headers, over = self._headers()
        if over:
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
        for object_type in ("companies", "contacts"):
            if request.method == "POST" and request.path == UPSERT.format(object_type):
                return self._upsert(object_type, request.json or {}, headers)
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
            if item.get("idProperty") != ID_PROPERTY[object_type]:
                return Reply(
                    status=400,
                    json={
                        "status": "error",
                        "category": "VALIDATION_ERROR",
                        "message": f"bad idProperty {item.get('idProperty')}",
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
        answer: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": "2026-12-01T00:00:00Z",
            "completedAt": "2026-12-01T00:00:01Z",
        }
        if errors:
            answer |= {"errors": errors, "numErrors": len(errors)}
        return Reply(status=207 if errors else 200, json=answer, headers=headers)

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
