"""Hunter, Apollo and People Data Labs stand-ins, answering from one directory of people.

Each speaks its provider's documented protocol (see
:mod:`lead_pipeline.providers.email_finders`): paths, key headers, JSON shapes,
"no match" answers (Hunter's null ``data.email``, Apollo's null ``person``,
PDL's 404) and limits (Hunter's 403 rate limit and 429 usage limit, PDL's JSON
``x-ratelimit-*`` headers and 429).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from lead_pipeline_tests.servers.base import RecordedRequest, Reply, StubServer

HUNTER_KEY = "hunter-test-key-0123456789"
APOLLO_KEY = "apollo-test-key-0123456789"
PDL_KEY = "pdl-test-key-0123456789"

# (full name lower-cased, company domain) -> what the provider knows of that person:
# {"email": ..., "score": 0-100, "verified": bool}
People = Mapping[tuple[str, str], Mapping[str, Any]]


class _FinderServer(StubServer):
    default_key = ""
    key_header = ""

    def __init__(self, people: People | None = None, *, api_key: str = "", **knobs: Any) -> None:
        super().__init__(**knobs)
        self.people: dict[tuple[str, str], Mapping[str, Any]] = dict(people or {})
        self.api_key = api_key or self.default_key
        self.matches = 0  # answers with an email: what the provider bills

    def lookup(self, name: str, domain: str) -> Mapping[str, Any] | None:
        return self.people.get((" ".join(name.split()).lower(), domain.lower()))

    def presented(self, request: RecordedRequest) -> str | None:
        return request.headers.get(self.key_header)


class HunterServer(_FinderServer):
    """``GET /v2/email-finder`` and ``GET /v2/email-verifier`` with ``X-API-KEY``.

    ``per_second``: beyond that many requests in a second, a 403 "rate limit
    reached"; ``credits``: after that many emails found, a 429 "usage limit".
    ``verdicts`` maps an address to the verifier's status (default ``valid``).
    """

    default_key = HUNTER_KEY
    key_header = "x-api-key"

    def __init__(
        self,
        people: People | None = None,
        *,
        per_second: int | None = None,
        credits: int | None = None,
        **knobs: Any,
    ) -> None:
        super().__init__(people, **knobs)
        self.per_second = per_second
        self.credits = credits
        self.verdicts: dict[str, str] = {}
        self._window: list[float] = []
        self._guard = threading.Lock()

    def env(self) -> dict[str, str]:
        return {"HUNTER_BASE_URL": self.base_url, "HUNTER_API_KEY": self.api_key}

    def _error(self, status: int, id_: str, details: str) -> Reply:
        return Reply(
            status=status, json={"errors": [{"id": id_, "code": status, "details": details}]}
        )

    def handle(self, request: RecordedRequest) -> Reply:
        if request.method != "GET" or request.path not in (
            "/v2/email-finder",
            "/v2/email-verifier",
        ):
            return self._error(404, "not_found", "route not found")
        key = self.presented(request) or request.param("api_key")
        if key != self.api_key:
            return self._error(401, "authentication_failed", f"No user found for the API key {key}")
        with self._guard:
            now = time.monotonic()
            self._window = [t for t in self._window if now - t < 1.0]
            if self.per_second is not None and len(self._window) >= self.per_second:
                return self._error(403, "too_many_requests", "You have reached the rate limit")
            self._window.append(now)
        if request.path == "/v2/email-verifier":
            email = request.param("email") or ""
            status = self.verdicts.get(email.lower(), "valid")
            result = {"valid": "deliverable", "invalid": "undeliverable"}.get(status, "risky")
            return Reply(
                json={
                    "data": {"status": status, "result": result, "score": 90, "email": email},
                    "meta": {"params": {"email": email}},
                }
            )
        domain = request.param("domain") or ""
        name = request.param("full_name") or (
            f"{request.param('first_name') or ''} {request.param('last_name') or ''}"
        )
        if not domain or not name.strip():
            return self._error(400, "wrong_params", "You are missing the domain parameter")
        person = self.lookup(name, domain)
        data: dict[str, Any] = {
            "first_name": request.param("first_name"),
            "last_name": request.param("last_name"),
            "email": None,
            "score": None,
            "domain": domain,
            "accept_all": False,
            "position": None,
            "sources": [],
            "verification": {"date": None, "status": None},
        }
        if person is not None and person.get("email"):
            with self._guard:
                if self.credits is not None and self.matches >= self.credits:
                    return self._error(
                        429, "too_many_requests", "You have reached your usage limit"
                    )
                self.matches += 1
            data |= {
                "email": person["email"],
                "score": person.get("score", 90),
                "sources": [
                    {
                        "domain": domain,
                        "uri": f"https://{domain}/team",
                        "extracted_on": "2026-01-02",
                        "last_seen_on": "2026-11-02",
                        "still_on_page": True,
                    }
                ],
                "verification": {
                    "date": "2026-11-02" if person.get("verified") else None,
                    "status": "valid" if person.get("verified") else None,
                },
            }
        return Reply(json={"data": data, "meta": {"params": dict(request.query)}})


class ApolloServer(_FinderServer):
    """``POST /api/v1/people/match`` with ``X-Api-Key``; ``{"person": null}`` for no match."""

    default_key = APOLLO_KEY
    key_header = "x-api-key"

    def env(self) -> dict[str, str]:
        return {"APOLLO_BASE_URL": self.base_url, "APOLLO_API_KEY": self.api_key}

    def handle(self, request: RecordedRequest) -> Reply:
        if request.method != "POST" or request.path != "/api/v1/people/match":
            return Reply(status=404, json={"error": "Not found"})
        if self.presented(request) != self.api_key:
            return Reply(
                status=401,
                json={"error": "Invalid access credentials.", "error_code": "INVALID_API_KEY"},
            )
        body = request.json or {}
        name = body.get("name") or f"{body.get('first_name', '')} {body.get('last_name', '')}"
        person = self.lookup(str(name), str(body.get("domain") or ""))
        headers = {"x-rate-limit-minute": "50", "x-minute-requests-left": "49"}
        if person is None:
            return Reply(json={"person": None}, headers=headers)
        self.matches += 1
        first, _, last = str(name).partition(" ")
        return Reply(
            json={
                "person": {
                    "id": f"64a{abs(hash(name)) % 10**8:08d}",
                    "first_name": first,
                    "last_name": last,
                    "name": name,
                    "linkedin_url": body.get("linkedin_url"),
                    "title": "Co-Founder",
                    "email_status": "verified" if person.get("verified") else "extrapolated",
                    "email": person.get("email"),
                    "organization": {
                        "name": body.get("organization_name"),
                        "primary_domain": body.get("domain"),
                    },
                }
            },
            headers=headers,
        )


class PdlServer(_FinderServer):
    """``GET /v5/person/enrich`` with ``X-Api-Key``; 404 for no match.

    ``per_window`` requests per ``window`` seconds (PDL: per 60 s); every answer
    carries ``x-ratelimit-remaining`` as JSON and ``x-ratelimit-reset``.
    """

    default_key = PDL_KEY
    key_header = "x-api-key"

    def __init__(
        self,
        people: People | None = None,
        *,
        per_window: int | None = None,
        window: float = 60.0,
        **knobs: Any,
    ) -> None:
        super().__init__(people, **knobs)
        self.per_window = per_window
        self.window = window
        self._started = time.time()
        self._used = 0
        self.throttled = 0  # 429s answered
        self._guard = threading.Lock()

    def env(self) -> dict[str, str]:
        return {"PDL_BASE_URL": self.base_url, "PDL_API_KEY": self.api_key}

    def _limits(self) -> tuple[dict[str, str], bool]:
        with self._guard:
            now = time.time()
            if now - self._started >= self.window:
                self._started, self._used = now, 0
            self._used += 1
            limit = self.per_window if self.per_window is not None else 1000
            remaining = max(0, limit - self._used)
            over = self.per_window is not None and self._used > self.per_window
            reset = datetime.fromtimestamp(self._started + self.window, UTC)
        return {
            "x-ratelimit-limit": json.dumps({"minute": limit}),
            "x-ratelimit-remaining": json.dumps({"minute": remaining}),
            "x-ratelimit-reset": reset.isoformat(),
        }, over

    def handle(self, request: RecordedRequest) -> Reply:
        if request.method != "GET" or request.path != "/v5/person/enrich":
            return Reply(
                status=404,
                json={"status": 404, "error": {"type": "not_found", "message": "no route"}},
            )
        if self.presented(request) != self.api_key:
            return Reply(
                status=401,
                json={
                    "status": 401,
                    "error": {"type": "authentication_error", "message": "Invalid API key"},
                },
            )
        headers, over = self._limits()
        if over:
            with self._guard:
                self.throttled += 1
            return Reply(
                status=429,
                headers=headers,
                json={
                    "status": 429,
                    "error": {
                        "type": "rate_limit_error",
                        "message": "An error occurred due to requests hitting the API too quick",
                    },
                },
            )
        name = request.param("name") or ""
        person = self.lookup(name, request.param("company") or "")
        required = request.param("required")
        if person is None or (required == "work_email" and not person.get("email")):
            return Reply(
                status=404,
                headers=headers,
                json={
                    "status": 404,
                    "error": {
                        "type": "not_found",
                        "message": "No records were found matching your request",
                    },
                },
            )
        self.matches += 1
        return Reply(
            headers=headers,
            json={
                "status": 200,
                "likelihood": person.get("likelihood", 8),
                "data": {
                    "id": f"pdl{abs(hash(name)) % 10**8:08d}",
                    "full_name": name.lower(),
                    "work_email": person.get("email"),
                    "linkedin_url": request.param("profile"),
                    "job_company_website": request.param("company"),
                },
            },
        )
