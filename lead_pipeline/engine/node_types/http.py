"""``http`` nodes: call any JSON API with a templated request, pick outputs with JMESPath.

URL, headers, query and body are Jinja templates over the row. Credentials do
not go through templates: ``secret_headers`` names the environment variable
that holds each secret, so a key never sits in a workflow file or a rendered
value that could be logged.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import jmespath
from pydantic import Field, field_validator

from lead_pipeline import settings
from lead_pipeline.engine.registry import (
    NodeCall,
    NodeConfig,
    NodeError,
    NodeOutcome,
    NotConfigured,
    node_type,
)
from lead_pipeline.workflows.templates import compile_template, render, render_value


class HttpConfig(NodeConfig):
    template_fields: ClassVar[tuple[str, ...]] = ("url", "headers", "params", "body")

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    params: dict[str, str] = Field(default_factory=dict)
    body: Any = None
    secret_headers: dict[str, str] = Field(default_factory=dict)
    extract: dict[str, str] = Field(default_factory=dict)
    timeout: float = Field(default=30.0, gt=0)
    cost_per_request: float = Field(default=0.0, ge=0)

    @field_validator("extract")
    @classmethod
    def _jmespath(cls, extract: dict[str, str]) -> dict[str, str]:
        for column, path in extract.items():
            try:
                jmespath.compile(path)
            except jmespath.exceptions.JMESPathError as exc:
                raise ValueError(f"{column}: invalid JMESPath {path!r}: {exc}") from exc
        return extract


def _preflight(config: HttpConfig, _services: Any) -> None:
    missing = [var for var in config.secret_headers.values() if settings.secret(var) is None]
    if missing:
        raise NotConfigured(f"set the environment variable(s) {', '.join(missing)}")


@node_type("http", HttpConfig, preflight=_preflight, kinds=("api",))
async def run_http(call: NodeCall[HttpConfig]) -> NodeOutcome:
    """One HTTP request per row; a non-2xx answer or non-JSON body fails the row."""
    config = call.config
    url = render(compile_template(config.url), call.values)
    headers = render_value(config.headers, call.values)
    for header, var in config.secret_headers.items():
        secret = settings.secret(var)
        if secret is None:
            raise NotConfigured(f"set the environment variable {var}")
        headers[header] = secret.reveal()
    response = await call.services.http.request(
        config.method,
        url,
        headers=headers,
        params=render_value(config.params, call.values),
        json=render_value(config.body, call.values, native=True)
        if config.body is not None
        else None,
        timeout=config.timeout,
    )
    if response.status_code >= 400:
        raise NodeError(f"HTTP {response.status_code} from {response.url.host}")
    try:
        data = response.json()
    except ValueError as exc:
        raise NodeError(f"response from {response.url.host} is not JSON") from exc
    if config.extract:
        outputs = {col: jmespath.search(path, data) for col, path in config.extract.items()}
    else:
        outputs = {col: data.get(col) for col in call.outputs} if isinstance(data, dict) else {}
    return NodeOutcome(outputs=outputs, cost=config.cost_per_request, provider="http")
