"""OpenAI Batch and Anthropic Message Batches stand-ins, with a state the test controls.

Each server also speaks its synchronous API (it subclasses the chat stand-in), and
answers a batch's lines with that same code, so a batch answer and a synchronous one
are the same answer. A batch stays where it is (``validating`` / ``in_progress``)
until the test calls :meth:`end` (answers, in a shuffled order, with chosen lines
errored or expired), :meth:`expire` or a cancel arrives and :meth:`end` settles it.
:meth:`hold` blocks a request on a path until released, after the server has done
its work, so a test can kill the client at that instant; ``before=True`` blocks it
before any work, and the request is then dropped unanswered: the provider never knew.
"""

from __future__ import annotations

import itertools
import json
import random
import re
import threading
import time
from datetime import UTC, datetime, timedelta
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from lead_pipeline_tests.servers.base import RecordedRequest, Reply
from lead_pipeline_tests.servers.llm import AnthropicServer, OpenAIServer

_CUSTOM_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ids = itertools.count(1)


def _error(status: int, message: str) -> Reply:
    return Reply(status=status, json={"error": {"message": message, "type": "invalid_request"}})


class _Holds:
    """Requests to hold: ``hold(path_prefix)`` returns an event set when one arrives;
    ``release()`` lets every held request answer. ``before=True`` holds the first such
    request before the server does anything with it, and only that one: once released it
    is dropped (:meth:`wait_if_held` says so), as if the client had died before sending it."""

    def __init__(self) -> None:
        self._holds: dict[tuple[str, bool], threading.Event] = {}
        self._go = threading.Event()

    def hold(self, prefix: str, *, before: bool = False) -> threading.Event:
        arrived = threading.Event()
        self._holds[(prefix, before)] = arrived
        self._go.clear()
        return arrived

    def release(self) -> None:
        self._go.set()

    def wait_if_held(self, path: str, *, before: bool = False) -> bool:
        """Block while a hold of ``path`` (of this kind) is on; True: drop the request."""
        for (prefix, early), arrived in list(self._holds.items()):
            if early == before and path.startswith(prefix):
                if before:
                    del self._holds[(prefix, early)]  # one request only
                arrived.set()
                self._go.wait(timeout=120)
                return before
        return False


class OpenAIBatchServer(OpenAIServer):
    """``/v1/files``, ``/v1/batches`` and ``/v1/chat/completions`` (``OPENAI_BASE_URL`` is
    :attr:`base_url`). ``max_requests`` / ``max_bytes`` are its per-file limits."""

    def __init__(self, *args: Any, seed: int = 0, **kw: Any) -> None:
        super().__init__(*args, seed=seed, **kw)
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.max_requests = 50_000
        self.max_bytes = 200_000_000
        self.shuffle = random.Random(seed)
        self.holds = _Holds()
        self.state_lock = threading.Lock()

    def hold(self, prefix: str, *, before: bool = False) -> threading.Event:
        return self.holds.hold(prefix, before=before)

    def release(self) -> None:
        self.holds.release()

    def _authorized(self, request: RecordedRequest) -> bool:
        auth = request.headers.get("authorization", "")
        return auth.removeprefix("Bearer ").strip() == self.api_key

    def handle(self, request: RecordedRequest) -> Reply:
        path = request.path
        if path == "/v1/chat/completions":
            return super().handle(request)
        if not self._authorized(request):
            return _error(401, "Incorrect API key provided")
        if self.holds.wait_if_held(path, before=True):
            return _error(499, "the client went away before the request was read")
        with self.state_lock:
            reply = self._route(request)
        self.holds.wait_if_held(path)  # after the work is done: a kill now loses the answer
        return reply

    def _route(self, request: RecordedRequest) -> Reply:
        path, method = request.path, request.method
        if path == "/v1/files" and method == "POST":
            return self._upload(request)
        if path == "/v1/batches" and method == "POST":
            return self._create(request.json or {})
        if path == "/v1/batches" and method == "GET":
            limit = int(request.param("limit") or 20)
            data = sorted(self.batches.values(), key=lambda b: -b["created_at"])[:limit]
            return Reply(json={"object": "list", "data": data, "has_more": False})
        if m := re.fullmatch(r"/v1/batches/([^/]+)", path):
            batch = self.batches.get(m.group(1))
            return Reply(json=batch) if batch else _error(404, "no such batch")
        if (m := re.fullmatch(r"/v1/batches/([^/]+)/cancel", path)) and method == "POST":
            batch = self.batches.get(m.group(1))
            if batch is None:
                return _error(404, "no such batch")
            if batch["status"] in ("validating", "in_progress", "finalizing"):
                batch["status"] = "cancelling"
                batch["cancelling_at"] = int(time.time())
            return Reply(json=batch)
        if m := re.fullmatch(r"/v1/files/([^/]+)/content", path):
            content = self.files.get(m.group(1))
            if content is None:
                return _error(404, "no such file")
            return Reply(body=content, content_type="application/jsonl")
        return _error(404, f"unknown path {path}")

    def _upload(self, request: RecordedRequest) -> Reply:
        head = f"Content-Type: {request.headers.get('content-type', '')}\r\n\r\n".encode()
        message = BytesParser(policy=HTTP).parsebytes(head + request.body)
        if not message.is_multipart():
            return _error(400, "expected multipart/form-data")
        fields: dict[str, bytes] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            fields[str(name)] = part.get_payload(decode=True) or b""
        if fields.get("purpose") != b"batch":
            return _error(400, "purpose must be batch")
        content = fields.get("file")
        if content is None:
            return _error(400, "no file")
        if len(content) > self.max_bytes:
            return _error(400, f"file is {len(content)} bytes, above {self.max_bytes}")
        lines = [line for line in content.splitlines() if line.strip()]
        if len(lines) > self.max_requests:
            return _error(400, f"{len(lines)} requests, above {self.max_requests}")
        seen: set[str] = set()
        for number, line in enumerate(lines, 1):
            entry = json.loads(line)
            if set(entry) != {"custom_id", "method", "url", "body"}:
                return _error(400, f"line {number}: fields {sorted(entry)}")
            if entry["custom_id"] in seen:
                return _error(400, f"line {number}: duplicate custom_id")
            seen.add(entry["custom_id"])
        file_id = f"file-{next(_ids)}"
        self.files[file_id] = content
        return Reply(
            json={"id": file_id, "object": "file", "bytes": len(content), "purpose": "batch"}
        )

    def _create(self, body: dict[str, Any]) -> Reply:
        content = self.files.get(body.get("input_file_id", ""))
        if content is None:
            return _error(400, "input_file_id not found")
        if body.get("endpoint") != "/v1/chat/completions" or body.get("completion_window") != "24h":
            return _error(400, "endpoint or completion_window not supported")
        metadata = body.get("metadata") or {}
        if len(metadata) > 16:
            return _error(400, "at most 16 metadata pairs")
        lines = [json.loads(line) for line in content.splitlines() if line.strip()]
        models = {line["body"].get("model") for line in lines}
        batch_id = f"batch_{next(_ids)}"
        batch = {
            "id": batch_id,
            "object": "batch",
            "endpoint": body["endpoint"],
            "errors": None,
            "input_file_id": body["input_file_id"],
            "completion_window": "24h",
            "status": "validating",
            "output_file_id": None,
            "error_file_id": None,
            "created_at": int(time.time()) + len(self.batches),
            "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
            "metadata": metadata,
        }
        if len(models) > 1:  # the provider fails such a file while validating it
            batch["status"] = "failed"
            batch["errors"] = {"data": [{"code": "mixed_models", "message": "one model a file"}]}
        self.batches[batch_id] = batch
        return Reply(json=batch)

    def lines(self, batch_id: str) -> list[dict[str, Any]]:
        content = self.files[self.batches[batch_id]["input_file_id"]]
        return [json.loads(line) for line in content.splitlines() if line.strip()]

    def end(
        self,
        batch_id: str | None = None,
        *,
        errored: frozenset[str] | set[str] = frozenset(),
        expire: bool = False,
    ) -> None:
        """End ``batch_id`` (every open batch by default): each line answered by the chat
        stand-in, in a shuffled order; ``errored`` custom ids answered with a 400; with
        ``expire``, half the lines expire unanswered; a cancelling batch is cancelled."""
        with self.state_lock:
            for bid, batch in self.batches.items():
                if batch_id not in (None, bid) or batch["status"] in (
                    "completed",
                    "failed",
                    "expired",
                    "cancelled",
                ):
                    continue
                self._end(bid, batch, set(errored), expire)

    def _end(self, bid: str, batch: dict[str, Any], errored: set[str], expire: bool) -> None:
        lines = self.lines(bid)
        self.shuffle.shuffle(lines)
        cancelling = batch["status"] == "cancelling"
        out: list[bytes] = []
        err: list[bytes] = []
        for i, line in enumerate(lines):
            cid = line["custom_id"]
            if cancelling or (expire and i % 2 == 0):
                code = "batch_cancelled" if cancelling else "batch_expired"
                entry = {
                    "id": f"req_{i}",
                    "custom_id": cid,
                    "response": None,
                    "error": {"code": code, "message": f"This request was {code[6:]}."},
                }
                err.append(json.dumps(entry).encode())
                continue
            if cid in errored:
                entry = {
                    "id": f"req_{i}",
                    "custom_id": cid,
                    "response": {
                        "status_code": 400,
                        "body": {"error": {"message": "stand-in refused this line"}},
                    },
                    "error": None,
                }
                err.append(json.dumps(entry).encode())
                continue
            fake = RecordedRequest(
                "POST",
                "/v1/chat/completions",
                {},
                {"authorization": f"Bearer {self.api_key}"},
                json.dumps(line["body"]).encode(),
                0.0,
            )
            reply = OpenAIServer.handle(self, fake)
            entry = {
                "id": f"req_{i}",
                "custom_id": cid,
                "response": {"status_code": reply.status, "body": json.loads(reply.payload())},
                "error": None,
            }
            (out if reply.status == 200 else err).append(json.dumps(entry).encode())
        for name, rows in (("output_file_id", out), ("error_file_id", err)):
            if rows:
                file_id = f"file-{next(_ids)}"
                self.files[file_id] = b"\n".join(rows) + b"\n"
                batch[name] = file_id
        batch["status"] = "cancelled" if cancelling else ("expired" if expire else "completed")
        batch["request_counts"] = {"total": len(lines), "completed": len(out), "failed": len(err)}

    def set_status(self, batch_id: str, status: str) -> None:
        with self.state_lock:
            self.batches[batch_id]["status"] = status


class AnthropicBatchServer(AnthropicServer):
    """``/v1/messages/batches`` and ``/v1/messages`` (``ANTHROPIC_BASE_URL`` is
    :attr:`base_url`)."""

    def __init__(self, *args: Any, seed: int = 0, **kw: Any) -> None:
        super().__init__(*args, seed=seed, **kw)
        self.batches: dict[str, dict[str, Any]] = {}
        self.requests_of: dict[str, list[dict[str, Any]]] = {}
        self.results: dict[str, bytes] = {}
        self.max_requests = 100_000
        self.max_bytes = 256_000_000
        self.shuffle = random.Random(seed)
        self.holds = _Holds()
        self.state_lock = threading.Lock()
        self.results_host: str | None = None  # a test's hostile results_url host

    def hold(self, prefix: str, *, before: bool = False) -> threading.Event:
        return self.holds.hold(prefix, before=before)

    def release(self) -> None:
        self.holds.release()

    def handle(self, request: RecordedRequest) -> Reply:
        path = request.path
        if path == "/v1/messages":
            return super().handle(request)
        if request.headers.get("x-api-key") != self.api_key:
            return Reply(status=401, json={"type": "error", "error": {"message": "bad key"}})
        if not request.headers.get("anthropic-version"):
            return _error(400, "anthropic-version header required")
        if self.holds.wait_if_held(path, before=True):
            return _error(499, "the client went away before the request was read")
        with self.state_lock:
            reply = self._route(request)
        self.holds.wait_if_held(path)
        return reply

    def _route(self, request: RecordedRequest) -> Reply:
        path, method = request.path, request.method
        if path == "/v1/messages/batches" and method == "POST":
            if len(request.body) > self.max_bytes:
                return _error(413, "request too large")
            return self._create(request.json or {})
        if path == "/v1/messages/batches" and method == "GET":
            limit = int(request.param("limit") or 20)
            data = sorted(self.batches.values(), key=lambda b: b["created_at"], reverse=True)
            return Reply(json={"data": data[:limit], "has_more": False})
        if m := re.fullmatch(r"/v1/messages/batches/([^/]+)", path):
            batch = self.batches.get(m.group(1))
            return Reply(json=batch) if batch else _error(404, "no such batch")
        if (m := re.fullmatch(r"/v1/messages/batches/([^/]+)/cancel", path)) and method == "POST":
            batch = self.batches.get(m.group(1))
            if batch is None:
                return _error(404, "no such batch")
            if batch["processing_status"] == "in_progress":
                batch["processing_status"] = "canceling"
                batch["cancel_initiated_at"] = datetime.now(UTC).isoformat()
            return Reply(json=batch)
        if m := re.fullmatch(r"/v1/messages/batches/([^/]+)/results", path):
            content = self.results.get(m.group(1))
            if content is None:
                return _error(404, "no results yet")
            return Reply(body=content, content_type="application/x-jsonl")
        return _error(404, f"unknown path {path}")

    def _create(self, body: dict[str, Any]) -> Reply:
        requests = body.get("requests")
        if not isinstance(requests, list) or not requests:
            return _error(400, "requests: at least one")
        if len(requests) > self.max_requests:
            return _error(400, f"{len(requests)} requests, above {self.max_requests}")
        seen: set[str] = set()
        for r in requests:
            cid = r.get("custom_id")
            if not isinstance(cid, str) or not _CUSTOM_ID.match(cid) or cid in seen:
                return _error(400, f"custom_id {cid!r} invalid or repeated")
            seen.add(cid)
            if "max_tokens" not in r.get("params", {}):
                return _error(400, "params.max_tokens required")
        batch_id = f"msgbatch_{next(_ids):06d}"
        now = datetime.now(UTC)
        batch = {
            "id": batch_id,
            "type": "message_batch",
            "processing_status": "in_progress",
            "request_counts": {
                "processing": len(requests),
                "succeeded": 0,
                "errored": 0,
                "canceled": 0,
                "expired": 0,
            },
            "ended_at": None,
            "created_at": now.isoformat().replace("+00:00", "Z"),
            "expires_at": (now + timedelta(hours=24)).isoformat().replace("+00:00", "Z"),
            "archived_at": None,
            "cancel_initiated_at": None,
            "results_url": None,
        }
        self.batches[batch_id] = batch
        self.requests_of[batch_id] = requests
        return Reply(json=batch)

    def end(
        self,
        batch_id: str | None = None,
        *,
        errored: frozenset[str] | set[str] = frozenset(),
        expire: bool = False,
    ) -> None:
        """End ``batch_id`` (every open one by default), as :meth:`OpenAIBatchServer.end`."""
        with self.state_lock:
            for bid, batch in self.batches.items():
                if batch_id not in (None, bid) or batch["processing_status"] == "ended":
                    continue
                self._end(bid, batch, set(errored), expire)

    def _end(self, bid: str, batch: dict[str, Any], errored: set[str], expire: bool) -> None:
        requests = list(self.requests_of[bid])
        self.shuffle.shuffle(requests)
        canceling = batch["processing_status"] == "canceling"
        counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        rows: list[bytes] = []
        for i, r in enumerate(requests):
            cid = r["custom_id"]
            if canceling:
                result: dict[str, Any] = {"type": "canceled"}
            elif expire and i % 2 == 0:
                result = {"type": "expired"}
            elif cid in errored:
                result = {
                    "type": "errored",
                    "error": {
                        "type": "error",
                        "error": {"type": "invalid_request_error", "message": "stand-in refused"},
                    },
                }
            else:
                fake = RecordedRequest(
                    "POST",
                    "/v1/messages",
                    {},
                    {"x-api-key": self.api_key, "anthropic-version": "2023-06-01"},
                    json.dumps(r["params"]).encode(),
                    0.0,
                )
                reply = AnthropicServer.handle(self, fake)
                if reply.status == 200:
                    result = {"type": "succeeded", "message": json.loads(reply.payload())}
                else:
                    result = {"type": "errored", "error": json.loads(reply.payload())}
            counts[result["type"]] += 1
            rows.append(json.dumps({"custom_id": cid, "result": result}).encode())
        self.results[bid] = b"\n".join(rows) + b"\n"
        host = self.results_host or self.root_url
        batch.update(
            processing_status="ended",
            request_counts=counts,
            ended_at=datetime.now(UTC).isoformat(),
            results_url=f"{host}/v1/messages/batches/{bid}/results",
        )
