"""The LLM providers' batch APIs: submit many questions at once, poll, read the answers.

OpenAI Batch (``/v1/files`` then ``/v1/batches``) and Anthropic Message Batches
(``/v1/messages/batches``) both answer within 24 hours at half the synchronous
price. This module only speaks their wire protocols; what a batch holds and when
it is collected is the engine's business (``engine/batch_lane.py``).

Batch calls are few (one per batch, not per row), so they use a plain synchronous
client; every error names the provider and is scrubbed of the key.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx2
from pydantic import SecretStr

from lead_pipeline.providers.errors import ProviderError
from lead_pipeline.providers.http import USER_AGENT, error_detail
from lead_pipeline.providers.llm import (
    ANTHROPIC,
    ANTHROPIC_VERSION,
    KEY_ENV,
    OPENAI,
    _base_url,
    _key,
)
from lead_pipeline.settings import Settings

# The providers' documented limits per batch.
OPENAI_MAX_REQUESTS = 50_000
OPENAI_MAX_BYTES = 200_000_000
ANTHROPIC_MAX_REQUESTS = 100_000
ANTHROPIC_MAX_BYTES = 256_000_000
OPENAI_ENDED = frozenset({"completed", "failed", "expired", "cancelled"})
TIMEOUT = httpx2.Timeout(120.0, connect=10.0)


@dataclass(frozen=True)
class BatchLine:
    """One question in a batch: its ``custom_id`` and the request body."""

    custom_id: str
    body: Mapping[str, Any]


@dataclass
class BatchState:
    """A batch as the provider reports it."""

    provider: str
    batch_id: str
    status: str  # the provider's own word
    ended: bool
    counts: dict[str, int] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    created_at: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LineResult:
    """One answer line: the response body, or the provider's reason it has none."""

    custom_id: str
    body: Any = None
    error: str | None = None


class BatchError(ProviderError):
    """A batch API call failed; the message names the provider and the call."""


def _check(response: httpx2.Response, provider: str, what: str, key: SecretStr) -> Any:
    if response.status_code >= 400:
        detail = error_detail(response.content, secrets=[key])
        raise BatchError(
            f"{provider} batch API: {what} answered {response.status_code}: {detail}",
            provider=provider,
            status=response.status_code,
            secrets=[key],
        )
    try:
        return response.json()
    except ValueError:
        raise BatchError(
            f"{provider} batch API: {what} did not answer JSON", provider=provider, secrets=[key]
        ) from None


def _counts(raw: Any) -> dict[str, int]:
    if not isinstance(raw, dict):
        return {}
    return {str(k): v for k, v in raw.items() if isinstance(v, int) and not isinstance(v, bool)}


class BatchApi:
    """One provider's batch endpoints; :func:`batch_api` picks the class."""

    provider: str
    max_requests: int
    max_bytes: int
    # The request each line stands for, as a synchronous call's trace names it.
    line_endpoint: str

    def __init__(self, config: Settings, client: httpx2.Client | None = None) -> None:
        key = _key(self.provider, config)
        if key is None:
            raise BatchError(
                f"{self.provider} batch API: {KEY_ENV[self.provider]} is not set",
                provider=self.provider,
            )
        self.key = key
        self.base = _base_url(self.provider, config).rstrip("/")
        self.client = client or httpx2.Client(
            timeout=TIMEOUT, headers={"User-Agent": USER_AGENT}, follow_redirects=False
        )
        cap = config.batch_max_requests
        if cap is not None:
            self.max_requests = min(self.max_requests, cap)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> BatchApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, url: str, what: str, **kw: Any) -> Any:
        try:
            headers = {**self.headers(), **kw.pop("headers", {})}
            response = self.client.request(method, url, headers=headers, **kw)
        except httpx2.HTTPError as exc:
            raise BatchError(
                f"{self.provider} batch API: {what} failed: {type(exc).__name__}: {exc}",
                provider=self.provider,
                secrets=[self.key],
            ) from None
        return _check(response, self.provider, what, self.key)

    def headers(self) -> dict[str, str]:
        raise NotImplementedError

    def encode(self, line: BatchLine) -> bytes:
        """``line`` as the provider receives it, separator included: its length is what it
        adds to the batch's size, and :meth:`submit` joins these bytes as they are (each
        line is encoded once, 100,000 of them in a big batch)."""
        raise NotImplementedError

    def submit(self, lines: Sequence[bytes], tag: Mapping[str, str]) -> BatchState:
        """Create a batch of encoded lines (:meth:`encode`), tagged with ``tag`` where the
        provider keeps metadata."""
        raise NotImplementedError

    def get(self, batch_id: str) -> BatchState:
        raise NotImplementedError

    def list(self, limit: int = 100) -> list[BatchState]:
        raise NotImplementedError

    def results(self, state: BatchState) -> Iterator[LineResult]:
        raise NotImplementedError

    def cancel(self, batch_id: str) -> BatchState:
        raise NotImplementedError

    def _jsonl(self, url: str, what: str) -> Iterator[Any]:
        """The lines of a JSONL answer, streamed (a results file may hold 100,000 answers)."""
        try:
            with self.client.stream("GET", url, headers=self.headers()) as response:
                if response.status_code >= 400:
                    response.read()
                    _check(response, self.provider, what, self.key)
                for text in response.iter_lines():
                    if not text.strip():
                        continue
                    try:
                        yield json.loads(text)
                    except ValueError:
                        yield None  # a broken line: its row is failed by who reads it
        except httpx2.HTTPError as exc:
            raise BatchError(
                f"{self.provider} batch API: {what} failed: {type(exc).__name__}: {exc}",
                provider=self.provider,
                secrets=[self.key],
            ) from None


class OpenAIBatches(BatchApi):
    provider = OPENAI
    max_requests = OPENAI_MAX_REQUESTS
    max_bytes = OPENAI_MAX_BYTES
    endpoint = "/v1/chat/completions"
    line_endpoint = f"POST {endpoint}"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key.get_secret_value()}"}

    def encode(self, line: BatchLine) -> bytes:
        """One JSONL line of the batch file, its newline included."""
        entry = {
            "custom_id": line.custom_id,
            "method": "POST",
            "url": self.endpoint,
            "body": line.body,
        }
        return json.dumps(entry, separators=(",", ":")).encode() + b"\n"

    def submit(self, lines: Sequence[bytes], tag: Mapping[str, str]) -> BatchState:
        content = b"".join(lines)
        uploaded = self._call(
            "POST",
            f"{self.base}/files",
            "uploading the batch file",
            data={"purpose": "batch"},
            files={"file": ("lead-pipeline-batch.jsonl", content, "application/jsonl")},
        )
        file_id = uploaded.get("id") if isinstance(uploaded, dict) else None
        if not isinstance(file_id, str):
            raise BatchError(f"{self.provider} batch API: the upload gave no file id")
        created = self._call(
            "POST",
            f"{self.base}/batches",
            "creating the batch",
            json={
                "input_file_id": file_id,
                "endpoint": self.endpoint,
                "completion_window": "24h",
                "metadata": dict(tag),
            },
        )
        return self._state(created)

    def _state(self, raw: Any) -> BatchState:
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
            raise BatchError(f"{self.provider} batch API: an answer is not a batch object")
        status = str(raw.get("status"))
        metadata = raw.get("metadata") if isinstance(raw.get("metadata"), dict) else {}
        return BatchState(
            provider=self.provider,
            batch_id=raw["id"],
            status=status,
            ended=status in OPENAI_ENDED,
            counts=_counts(raw.get("request_counts")),
            metadata={str(k): str(v) for k, v in (metadata or {}).items()},
            created_at=str(raw.get("created_at")),
            raw=raw,
        )

    def get(self, batch_id: str) -> BatchState:
        return self._state(self._call("GET", f"{self.base}/batches/{batch_id}", "reading a batch"))

    def list(self, limit: int = 100) -> list[BatchState]:
        answer = self._call(
            "GET", f"{self.base}/batches", "listing batches", params={"limit": limit}
        )
        data = answer.get("data") if isinstance(answer, dict) else None
        return [self._state(item) for item in data or []]

    def cancel(self, batch_id: str) -> BatchState:
        return self._state(
            self._call("POST", f"{self.base}/batches/{batch_id}/cancel", "cancelling a batch")
        )

    def results(self, state: BatchState) -> Iterator[LineResult]:
        """Every answer line of the output and error files, in whatever order they come."""
        for name in ("output_file_id", "error_file_id"):
            file_id = state.raw.get(name)
            if not isinstance(file_id, str):
                continue
            for entry in self._jsonl(f"{self.base}/files/{file_id}/content", f"reading {name}"):
                if not isinstance(entry, dict) or not isinstance(entry.get("custom_id"), str):
                    continue
                yield _openai_line(entry)


def _openai_line(entry: dict[str, Any]) -> LineResult:
    custom_id = entry["custom_id"]
    error = entry.get("error")
    response = entry.get("response")
    if isinstance(error, dict):
        return LineResult(custom_id, error=f"{error.get('code')}: {error.get('message')}")
    if not isinstance(response, dict):
        return LineResult(custom_id, error="the line has no response")
    status = response.get("status_code")
    body = response.get("body")
    if status != 200:
        detail = error_detail(json.dumps(body).encode()) if body is not None else ""
        return LineResult(custom_id, error=f"answered {status}: {detail}".strip())
    return LineResult(custom_id, body=body)


class AnthropicBatches(BatchApi):
    provider = ANTHROPIC
    max_requests = ANTHROPIC_MAX_REQUESTS
    max_bytes = ANTHROPIC_MAX_BYTES
    line_endpoint = "POST /v1/messages"

    def headers(self) -> dict[str, str]:
        return {"x-api-key": self.key.get_secret_value(), "anthropic-version": ANTHROPIC_VERSION}

    def encode(self, line: BatchLine) -> bytes:
        """One entry of the body's ``requests`` array, its comma included."""
        entry = {"custom_id": line.custom_id, "params": line.body}
        return json.dumps(entry, separators=(",", ":")).encode() + b","

    def submit(self, lines: Sequence[bytes], tag: Mapping[str, str]) -> BatchState:
        """Anthropic batches carry no metadata: a lost batch is found again by its time and
        size (``engine/batch_lane.py``)."""
        body = b'{"requests":[' + b"".join(lines)[:-1] + b"]}"
        created = self._call(
            "POST",
            f"{self.base}/v1/messages/batches",
            "creating the batch",
            content=body,
            headers={"content-type": "application/json"},
        )
        return self._state(created)

    def _state(self, raw: Any) -> BatchState:
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
            raise BatchError(f"{self.provider} batch API: an answer is not a message batch")
        status = str(raw.get("processing_status"))
        return BatchState(
            provider=self.provider,
            batch_id=raw["id"],
            status=status,
            ended=status == "ended",
            counts=_counts(raw.get("request_counts")),
            created_at=str(raw.get("created_at")),
            raw=raw,
        )

    def get(self, batch_id: str) -> BatchState:
        url = f"{self.base}/v1/messages/batches/{batch_id}"
        return self._state(self._call("GET", url, "reading a batch"))

    def list(self, limit: int = 100) -> list[BatchState]:
        answer = self._call(
            "GET", f"{self.base}/v1/messages/batches", "listing batches", params={"limit": limit}
        )
        data = answer.get("data") if isinstance(answer, dict) else None
        return [self._state(item) for item in data or []]

    def cancel(self, batch_id: str) -> BatchState:
        url = f"{self.base}/v1/messages/batches/{batch_id}/cancel"
        return self._state(self._call("POST", url, "cancelling a batch"))

    def results(self, state: BatchState) -> Iterator[LineResult]:
        url = state.raw.get("results_url")
        if not isinstance(url, str):
            return
        # The key goes with the request: only to the API's own host, whatever the answer says.
        if httpx2.URL(url).netloc != httpx2.URL(self.base).netloc:
            raise BatchError(
                f"{self.provider} batch API: refused a results_url on another host "
                f"({httpx2.URL(url).host})",
                provider=self.provider,
            )
        for entry in self._jsonl(url, "reading the results"):
            if not isinstance(entry, dict) or not isinstance(entry.get("custom_id"), str):
                continue
            yield _anthropic_line(entry)


def _anthropic_line(entry: dict[str, Any]) -> LineResult:
    custom_id = entry["custom_id"]
    result = entry.get("result")
    kind = result.get("type") if isinstance(result, dict) else None
    if kind == "succeeded":
        assert isinstance(result, dict)
        return LineResult(custom_id, body=result.get("message"))
    if kind == "errored":
        assert isinstance(result, dict)
        detail = error_detail(json.dumps(result.get("error")).encode())
        return LineResult(custom_id, error=f"errored: {detail}")
    if kind in ("canceled", "expired"):
        return LineResult(custom_id, error=f"{kind} by the provider before it was answered")
    return LineResult(custom_id, error=f"unknown result type {kind!r}")


def batch_api(provider: str, config: Settings) -> BatchApi:
    """The batch client of ``provider`` (``openai`` or ``anthropic``)."""
    return (OpenAIBatches if provider == OPENAI else AnthropicBatches)(config)
