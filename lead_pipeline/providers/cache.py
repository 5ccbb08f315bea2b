"""The response cache contract and its key, so equal questions are paid for once."""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class ResponseCache(Protocol):
    """What a cache must offer; ``LeadStore`` satisfies it (a DB table shared by runs)."""

    def cache_get(self, key: str) -> Any | None: ...

    def cache_put(self, key: str, provider: str, response: Any) -> None: ...


def normalise(request: Any) -> str:
    """Canonical JSON of a request: key order and whitespace never change the key."""
    return json.dumps(
        request, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )


def cache_key(provider: str, request: Any) -> str:
    """sha256 hex of the provider and its normalised request (never a credential)."""
    return hashlib.sha256(f"{provider}\n{normalise(request)}".encode()).hexdigest()


class MemoryCache:
    """An in-process cache for tests and one-off calls."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.entries: dict[str, tuple[str, Any]] = {}

    def cache_get(self, key: str) -> Any | None:
        with self._lock:
            entry = self.entries.get(key)
        return None if entry is None else entry[1]

    def cache_put(self, key: str, provider: str, response: Any) -> None:
        with self._lock:
            self.entries[key] = (provider, response)
