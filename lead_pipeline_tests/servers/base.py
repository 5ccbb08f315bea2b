"""A threaded HTTP server on 127.0.0.1 that records requests and answers by script.

Provider stand-ins subclass :class:`StubServer` and implement :meth:`handle`.
Fault injection is common to all of them, applied in this order to each request:

1. ``latency`` seconds of sleep;
2. the next scripted :class:`Reply`, if any were queued with :meth:`script`;
3. ``rate_limit``: beyond that many accepted requests in the last second, a 429
   with ``Retry-After: retry_after``;
4. ``failure_rate``: that fraction of requests (seeded, so reproducible) get a 500;
5. otherwise :meth:`handle` (the provider's wire protocol).
"""

from __future__ import annotations

import json
import random
import ssl
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

_NO_JSON = object()
_TLS_DIR = Path(__file__).resolve().parent / "tls"
# A self-signed certificate for "localhost", shipped for tests only (valid to 2126).
TLS_CERT_FILE = str(_TLS_DIR / "localhost-cert.pem")
TLS_KEY_FILE = str(_TLS_DIR / "localhost-key.pem")


@dataclass
class Reply:
    """One scripted answer.

    ``json`` (any JSON value) or ``body`` (raw bytes/str) gives the content.
    ``delay`` sleeps before answering (a slow answer beyond the client's timeout).
    ``truncate`` announces the full Content-Length but sends only half the body and
    closes the connection (a transport-level truncation). ``stream_bytes`` streams
    that many bytes of filler HTML after ``body`` (a huge page). ``gzip_bomb`` sends
    the body gzipped, followed by that many zero bytes in the same gzip stream
    (``Content-Encoding: gzip``, compressed as it is sent: 1 GB is about 1 MB on the
    wire). ``trickle`` sends the body one byte at a time, that many seconds apart.
    """

    status: int = 200
    json: Any = _NO_JSON
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None
    delay: float = 0.0
    truncate: bool = False
    stream_bytes: int = 0
    gzip_bomb: int = 0
    trickle: float = 0.0

    def payload(self) -> bytes:
        if self.json is not _NO_JSON:
            return json.dumps(self.json).encode()
        return self.body.encode() if isinstance(self.body, str) else self.body

    def media_type(self) -> str:
        if self.content_type:
            return self.content_type
        return "application/json" if self.json is not _NO_JSON else "text/plain; charset=utf-8"


def json_reply(data: Any, status: int = 200, **kw: Any) -> Reply:
    return Reply(status=status, json=data, **kw)


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    at: float  # time.monotonic() on arrival

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def _serve(self) -> None:
        stub = self.server.stub
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = RecordedRequest(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            at=time.monotonic(),
        )
        stub._enter()
        try:
            reply = stub._dispatch(request)
            self._write(reply)
            stub._note(completed=True)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            stub._note(completed=False)
            self.close_connection = True
        finally:
            stub._leave()

    def _write(self, reply: Reply) -> None:
        if reply.delay:
            time.sleep(reply.delay)
        payload = reply.payload()
        if reply.gzip_bomb:
            self._write_bomb(reply, payload)
            return
        total = len(payload) + reply.stream_bytes
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.media_type())
        self.send_header("Content-Length", str(total))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.truncate:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command == "HEAD":
            return
        if reply.truncate:
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if reply.trickle:
            for i in range(len(payload)):
                self.wfile.write(payload[i : i + 1])
                self.wfile.flush()
                time.sleep(reply.trickle)
        else:
            self.wfile.write(payload)
        filler = b"<p>" + b"lorem ipsum dolor sit amet " * 2400 + b"</p>\n"
        left = reply.stream_bytes
        while left > 0:
            chunk = filler[:left]
            self.wfile.write(chunk)
            left -= len(chunk)
        self.wfile.flush()

    def _write_bomb(self, reply: Reply, payload: bytes) -> None:
        """``payload`` then ``reply.gzip_bomb`` zero bytes, gzipped while being sent; the
        end of the body is the end of the connection."""
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.media_type())
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Connection", "close")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.close_connection = True
        packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
        self.wfile.write(packer.compress(payload))
        zeros = bytes(1 << 20)
        left = reply.gzip_bomb
        while left > 0:
            self.wfile.write(packer.compress(zeros[:left]))
            left -= len(zeros)
        self.wfile.write(packer.flush())
        self.wfile.flush()

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    # The socketserver default backlog of 5 drops connections in a burst of 100
    # rows in flight; a provider accepts them, so the stand-in must too.
    request_queue_size = 1024
    stub: StubServer


class StubServer:
    """Base class: start with ``with Server() as s:`` (or ``start()``/``stop()``).

    Reusable by any test: ``requests`` (every request received, in order),
    ``count(path)``, ``script(*replies)``, ``reset()``, ``aborted`` (answers the
    client cut off), ``max_in_flight`` (most requests handled at once), and the
    fault-injection knobs described in the module doc, which may be changed while
    the server runs.
    """

    def __init__(
        self,
        *,
        latency: float = 0.0,
        rate_limit: float | None = None,
        retry_after: str = "1",
        failure_rate: float = 0.0,
        seed: int = 0,
        tls: bool = False,
    ) -> None:
        """``tls`` serves HTTPS with the shipped ``localhost`` certificate; clients
        trust it with ``verify=TLS_CERT_FILE`` and address ``https://localhost:port``."""
        self.tls = tls
        self.latency = latency
        self.rate_limit = rate_limit
        self.retry_after = retry_after
        self.failure_rate = failure_rate
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._script: deque[Reply | Callable[[RecordedRequest], Reply]] = deque()
        self._accepted: deque[float] = deque()
        self.completed = 0
        self.aborted = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle ---------------------------------------------------------

    def start(self) -> StubServer:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.stub = self
        if self.tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(TLS_CERT_FILE, TLS_KEY_FILE)
            server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> StubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return self._server.server_address[1]

    @property
    def root_url(self) -> str:
        if self.tls:
            return f"https://localhost:{self.port}"
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """What the provider's ``*_BASE_URL`` variable should be set to."""
        return self.root_url

    def url(self, path: str) -> str:
        return self.root_url + (path if path.startswith("/") else "/" + path)

    # ---- observation -------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def count(self, path: str | None = None) -> int:
        return sum(1 for r in self.requests if path is None or r.path == path)

    def reset(self) -> None:
        """Forget recorded requests and queued replies (knobs are kept)."""
        with self._lock:
            self._requests.clear()
            self._script.clear()
            self._accepted.clear()
            self.completed = self.aborted = self.max_in_flight = 0

    def script(self, *replies: Reply | Callable[[RecordedRequest], Reply]) -> None:
        """Queue replies for the next requests, served in order before anything else."""
        with self._lock:
            self._script.extend(replies)

    # ---- behaviour ---------------------------------------------------------

    def handle(self, request: RecordedRequest) -> Reply:
        """The provider's normal answer; subclasses implement the wire protocol."""
        return Reply(status=404, json={"error": {"message": f"no route for {request.path}"}})

    def _enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _note(self, *, completed: bool) -> None:
        with self._lock:
            if completed:
                self.completed += 1
            else:
                self.aborted += 1

    def _over_rate(self, now: float) -> bool:
        if self.rate_limit is None:
            return False
        while self._accepted and now - self._accepted[0] >= 1.0:
            self._accepted.popleft()
        if len(self._accepted) >= self.rate_limit:
            return True
        self._accepted.append(now)
        return False

    def _dispatch(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self._requests.append(request)
        if self.latency:
            time.sleep(self.latency)
        with self._lock:
            scripted = self._script.popleft() if self._script else None
            limited = scripted is None and self._over_rate(time.monotonic())
            failed = (
                scripted is None
                and not limited
                and self.failure_rate > 0
                and self._random.random() < self.failure_rate
            )
        if scripted is not None:
            return scripted(request) if callable(scripted) else scripted
        if limited:
            return Reply(
                status=429,
                json={"error": {"message": "rate limit exceeded", "type": "rate_limit"}},
                headers={"Retry-After": self.retry_after},
            )
        if failed:
            return Reply(status=500, json={"error": {"message": "injected failure"}})
        try:
            return self.handle(request)
        except Exception as exc:  # a stub bug shows as a 500 the test can see
            return Reply(status=500, json={"error": {"message": f"stub error: {exc!r}"}})
