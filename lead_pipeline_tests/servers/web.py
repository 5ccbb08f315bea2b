"""A plain website stand-in for the page fetcher: pages, redirects, huge bodies."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from html import escape
from typing import Any

from lead_pipeline_tests.servers.base import RecordedRequest, Reply, StubServer

Route = Reply | Callable[[RecordedRequest], Reply]


def html_page(title: str, *paragraphs: str) -> Reply:
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    html = (
        f"<!doctype html><html><head><title>{escape(title)}</title></head>"
        f"<body><nav>Home | About</nav><article><h1>{escape(title)}</h1>{body}</article>"
        "<footer>(c) stub</footer></body></html>"
    )
    return Reply(body=html, content_type="text/html; charset=utf-8")


def redirect(location: str, status: int = 302) -> Reply:
    return Reply(status=status, headers={"Location": location}, body=b"")


def huge_page(size: int) -> Reply:
    """An HTML page of ``size`` bytes (filler paragraphs), streamed."""
    head = b"<!doctype html><html><head><title>Huge</title></head><body>"
    return Reply(body=head, content_type="text/html", stream_bytes=max(0, size - len(head)))


class WebServer(StubServer):
    """Serves ``routes`` (path → :class:`Reply` or function of the request); 404 otherwise.
    Routes may be added while running with :meth:`route`."""

    def __init__(self, routes: Mapping[str, Route] | None = None, **knobs: Any) -> None:
        super().__init__(**knobs)
        self.routes: dict[str, Route] = dict(routes or {})

    def route(self, path: str, reply: Route) -> None:
        self.routes[path] = reply

    def handle(self, request: RecordedRequest) -> Reply:
        route = self.routes.get(request.path)
        if route is None:
            return Reply(status=404, body="not found")
        return route(request) if callable(route) else route
