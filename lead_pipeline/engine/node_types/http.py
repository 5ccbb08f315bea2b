"""``http`` nodes: call any JSON API with a templated request, pick outputs with JMESPath.

URL, headers, query and body are Jinja templates over the row. Credentials do
not go through templates: ``secret_headers`` names the environment variable
that holds each secret, so a key never sits in a workflow file, a rendered
value, the cache key or a log line. Requests go through the same provider
policy as every API call: pacing, retries on 429/5xx, optional cache, cost.

Rows are untrusted, so a row cannot choose where a request goes. Values a template puts in
the URL's path or query are encoded as one component each. A URL whose scheme or host a
template decides is refused when the workflow loads unless the node lists ``allowed_hosts``;
every request must go to the URL's literal host or one of those, and passes the same
address guard as page fetches (private, loopback and link-local addresses refused after DNS,
unless the operator trusts the host in ``LEAD_PIPELINE_TRUSTED_HOSTS`` or sets
``LEAD_PIPELINE_ALLOW_PRIVATE_URLS``). Redirects are not followed, so a secret header only
ever travels to a host the node declares.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal, cast

import httpx2
import jmespath
from pydantic import Field, SecretStr, ValidationInfo, field_validator

from lead_pipeline.engine.estimates import API_CALL_S, CallEstimate, EstimateContext
from lead_pipeline.engine.registry import (
    NodeCall,
    NodeConfig,
    NodeError,
    NodeOutcome,
    NotConfigured,
    node_type,
)
from lead_pipeline.providers import InvalidAnswer, Paid, ProviderError, Tab
from lead_pipeline.providers.http import request_json
from lead_pipeline.providers.redact import scrub_value
from lead_pipeline.providers.urlguard import ALLOWED_SCHEMES, HostList, UrlGuard
from lead_pipeline.settings import MAX_PRICE_USD, env_name, env_secret, get_settings
from lead_pipeline.workflows.outputs import InvalidOutput, output_validator
from lead_pipeline.workflows.templates import compile_url_template, render_value

if TYPE_CHECKING:
    from lead_pipeline.engine.compile import CompiledNode

# httpx2 sends header values as ASCII: a line break would split the header (request
# smuggling), and anything outside printable ASCII (a NUL the store turned into U+FFFD,
# say) would otherwise surface as an encoding traceback instead of the row's reason.
_HEADER_UNSAFE = re.compile(r"[^\t\x20-\x7e]")
PRICES_ENV = env_name("prices")


class HttpConfig(NodeConfig):
    template_fields: ClassVar[tuple[str, ...]] = ("url", "headers", "params", "body")

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="hosts the request may go to (api.example.com, *.example.com, host:port); "
        "needed when a template decides the URL's scheme or host",
    )
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    params: dict[str, str] = Field(default_factory=dict)
    body: Any = None
    secret_headers: dict[str, str] = Field(
        default_factory=dict, description="header name -> environment variable holding it"
    )
    extract: dict[str, str] = Field(default_factory=dict, description="column -> JMESPath")
    provider: str = Field(default="http", pattern=r"^[a-z0-9_]+$")
    cost_per_request: float = Field(
        default=0.0,
        ge=0,
        le=MAX_PRICE_USD,
        allow_inf_nan=False,
        description="USD per request, unless LEAD_PIPELINE_PRICES prices the provider",
    )
    cache: bool = Field(default=False, description="reuse answers to identical requests")

    @field_validator("provider")
    @classmethod
    def _priced_per_request(cls, provider: str) -> str:
        # A token price cannot price a request: refused here, against the file and node.
        if isinstance(get_settings().prices.get(provider), tuple):
            raise ValueError(
                f"{PRICES_ENV} prices {provider!r} per token; an http node's provider is "
                "priced per request: give it one number there, or set cost_per_request"
            )
        return provider

    @field_validator("allowed_hosts")
    @classmethod
    def _hosts(cls, allowed_hosts: list[str]) -> list[str]:
        HostList.of(allowed_hosts)  # ValueError names the entry that is not a host
        return allowed_hosts

    @field_validator("url")
    @classmethod
    def _url(cls, url: str, info: ValidationInfo) -> str:
        template = compile_url_template(url)
        origin = template.fixed_origin
        if origin is None:
            if not info.data.get("allowed_hosts"):
                raise ValueError(
                    "a template decides the URL's scheme or host, so a lead row could choose "
                    "where the request (and its secret headers) goes: write the scheme and "
                    "host literally, or list the hosts this node may reach in allowed_hosts"
                )
            return url
        try:
            parsed = httpx2.URL(origin)
        except (httpx2.InvalidURL, ValueError) as exc:
            raise ValueError(f"{origin!r} is not a URL: {exc}") from None
        if parsed.scheme not in ALLOWED_SCHEMES or not parsed.host:
            raise ValueError(f"{url!r} must start with http:// or https:// and a host")
        if parsed.userinfo:
            raise ValueError("credentials in the URL are not allowed: use secret_headers")
        return url

    def hosts(self) -> HostList:
        """Where this node's requests may go: ``allowed_hosts``, else the URL's literal host."""
        if self.allowed_hosts:
            return HostList.of(self.allowed_hosts)
        origin = compile_url_template(self.url).fixed_origin
        assert origin is not None, "the url validator requires allowed_hosts"
        return HostList.exactly(httpx2.URL(origin))

    @field_validator("extract")
    @classmethod
    def _jmespath(cls, extract: dict[str, str]) -> dict[str, str]:
        for column, path in extract.items():
            try:
                jmespath.compile(path)
            except jmespath.exceptions.JMESPathError as exc:
                raise ValueError(f"{column}: invalid JMESPath {path!r}: {exc}") from exc
        return extract


def _secrets(config: HttpConfig) -> dict[str, SecretStr]:
    found = {header: env_secret(var) for header, var in config.secret_headers.items()}
    missing = [config.secret_headers[h] for h, s in found.items() if s is None]
    if missing:
        raise NotConfigured(f"http node ({config.provider})", missing)
    return {h: s for h, s in found.items() if s is not None}


def _preflight(config: HttpConfig, _services: Any) -> None:
    _secrets(config)


def _estimate(node: CompiledNode, values: Any, context: EstimateContext) -> CallEstimate:
    """One request per row, at the provider's price (``LEAD_PIPELINE_PRICES``, else the
    node's own ``cost_per_request``)."""
    config = cast(HttpConfig, node.config)
    cost = context.prices.request_cost(config.provider, default=config.cost_per_request)
    return CallEstimate(config.provider, 1, 1, cost, cost, latency_s=API_CALL_S)


def _outputs(
    config: HttpConfig, declared: Mapping[str, Any], data: Any, secrets: Mapping[str, SecretStr]
) -> dict[str, Any]:
    """The node's columns from an answer: ``extract``'s JMESPath, else the answer's keys.

    An API that echoes a credential into its answer must not get it stored as an output:
    only what is kept is scrubbed, not the whole answer (up to its cap, ~0.35 s per MB).
    """
    if config.extract:
        outputs = {col: jmespath.search(path, data) for col, path in config.extract.items()}
    else:
        outputs = {col: data.get(col) for col in declared} if isinstance(data, dict) else {}
    return scrub_value(outputs, list(secrets.values()))


@node_type(
    "http",
    HttpConfig,
    preflight=_preflight,
    kinds=("api",),
    estimate=_estimate,
    reads_row=False,
)
async def run_http(call: NodeCall[HttpConfig]) -> NodeOutcome:
    """One request per row; a non-2xx answer (after retries) or a non-JSON body fails the row."""
    config = call.config
    url = compile_url_template(config.url).render(call.values, call.params)
    headers = render_value(config.headers, call.values, params=call.params)
    for name, value in headers.items():
        if _HEADER_UNSAFE.search(str(value)):
            raise NodeError(
                f"header {name!r}: the value has a line break, control or non-ASCII character,"
                " which a header cannot carry"
            )
    query = render_value(config.params, call.values, params=call.params)
    body = None
    if config.body is not None:
        body = render_value(config.body, call.values, params=call.params, native=True)
    secrets = _secrets(config)
    session = call.services.session
    policy = session.policy(config.provider)
    price = policy.prices.request_cost(config.provider, default=config.cost_per_request)

    async def send(_tab: Tab) -> Paid:
        sent = {**headers, **{h: s.get_secret_value() for h, s in secrets.items()}}
        answer = await request_json(
            session.client,
            policy,
            config.method,
            url,
            headers=sent,
            json_body=body,
            params=query or None,
            secret=list(secrets.values()),  # every one of them, not just the first
            timeouts=session.timeouts,
            max_bytes=session.answer_limit(config.provider),
            guard=UrlGuard.from_settings(session.settings),
            hosts=config.hosts(),
        )
        # Checked before the policy caches it: an answer that lacks a declared output or
        # breaks its declaration is a failed (paid) call, never a cached one that every
        # retry would be answered with.
        try:
            validator.check(_outputs(config, call.outputs, answer.data, secrets))
        except InvalidOutput as exc:
            raise InvalidAnswer(
                f"invalid output {exc}", provider=config.provider, cost=price
            ) from None
        return Paid(answer.data, price)

    validator = output_validator(call.outputs, "http")
    request = {"method": config.method, "url": url, "params": query, "body": body, "h": headers}
    try:
        response = await policy.run(request, send, price=price, use_cache=config.cache)
    except ProviderError as exc:
        raise NodeError(str(exc)) from None
    outputs = _outputs(config, call.outputs, response.data, secrets)
    return NodeOutcome(outputs=outputs, provider=config.provider)
