"""Row data must not steer ``http`` requests: where they go, which path they hit, what they carry.

Every test runs a real workflow's ``http`` node on rows of its own design against stand-in
servers on 127.0.0.1 and looks at what each server received.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from lead_pipeline.engine.compile import CompiledWorkflow
from lead_pipeline.engine.options import RunOptions
from lead_pipeline.engine.registry import registry
from lead_pipeline.engine.runner import run_shard
from lead_pipeline.engine.selection import make_shards, select_rows
from lead_pipeline.providers import CallPolicy, ProviderError
from lead_pipeline.providers.errors import BlockedURL
from lead_pipeline.providers.http import make_client, request_json
from lead_pipeline.providers.retry import RetryPolicy
from lead_pipeline.providers.urlguard import TRUSTED_HOSTS_ENV, HostList, UrlGuard
from lead_pipeline.store import FAILED, OK, LeadStore
from lead_pipeline.workflows.errors import WorkflowError
from lead_pipeline.workflows.loader import load_workflows
from lead_pipeline_tests.servers import RecordedRequest, Reply, StubServer

SECRET = "acme-secret-7d1f0b9e44c2a6"


class EchoApi(StubServer):
    """Answers every request with the path and query it received."""

    def handle(self, request: RecordedRequest) -> Reply:
        return Reply(json={"path": request.path, "query": request.query})


def _workflow(tmp_path: Path, node: str) -> CompiledWorkflow:
    folder = tmp_path / "wf"
    folder.mkdir(exist_ok=True)
    (folder / "probe.yaml").write_text(
        "name: probe\nnodes:\n" + node + "    outputs: {path: string}\n    extract: {path: path}\n"
    )
    (workflow,) = load_workflows([folder], builtin_dirs=[], node_types=registry())
    return workflow


def _run(store: LeadStore, workflow: CompiledWorkflow, rows: list[dict[str, Any]]) -> dict:
    store.import_rows("demo", [(f"row{i:02d}", row) for i, row in enumerate(rows)])
    options = RunOptions(parallel=4)
    selection = select_rows(store, workflow, "demo", options)
    for shard in make_shards(selection, options):
        run_shard(store, workflow, shard, options)
    return {row: found[("probe", "call")] for row, found in store.results("demo").items()}


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PROBE_API_KEY", SECRET)
    return SECRET


HOSTILE_NAMES = [
    "../admin",
    "../../etc/passwd",
    "%2e%2e/admin",
    "%2E%2E%2Fadmin",
    "acme?admin=1",
    "acme#fragment",
    "user@evil.test",
    "acme\r\nX-Injected: 1",
    "acme/../../admin",
    "a b&c=d",
    "\\..\\admin",
]


def test_row_values_stay_inside_their_path_segment_and_query_value(
    store: LeadStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    with EchoApi() as api:
        monkeypatch.setenv(TRUSTED_HOSTS_ENV, f"127.0.0.1:{api.port}")
        workflow = _workflow(
            tmp_path,
            "  - id: call\n    type: http\n"
            f"    url: '{api.root_url}/v1/companies/{{{{ name }}}}?q={{{{ name }}}}'\n"
            "    secret_headers: {X-Api-Key: PROBE_API_KEY}\n",
        )
        results = _run(store, workflow, [{"name": n} for n in HOSTILE_NAMES])
        assert all(r.status == OK for r in results.values()), results
        assert len(api.requests) == len(HOSTILE_NAMES)
        for request in api.requests:
            assert request.path.startswith("/v1/companies/"), request.path
            assert "/" not in request.path.removeprefix("/v1/companies/"), request.path
            assert set(request.query) == {"q"}, request.query
            assert "x-injected" not in request.headers
        sent = sorted(r.query["q"][0] for r in api.requests)
        assert sent == sorted(HOSTILE_NAMES)  # each value arrived whole, as data


@pytest.mark.parametrize("name", [".", "..", "..."])
def test_a_value_of_only_dots_fails_its_row_and_reaches_nothing(
    store: LeadStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    with EchoApi() as api:
        monkeypatch.setenv(TRUSTED_HOSTS_ENV, f"127.0.0.1:{api.port}")
        workflow = _workflow(
            tmp_path,
            f"  - id: call\n    type: http\n    url: '{api.root_url}/v1/x/{{{{ name }}}}'\n",
        )
        results = _run(store, workflow, [{"name": name}, {"name": "fine"}])
        assert results["row00"].status == FAILED
        assert "climb" in (results["row00"].error or "")
        assert results["row01"].status == OK
        assert [r.path for r in api.requests] == ["/v1/x/fine"]


@pytest.mark.parametrize(
    "url",
    [
        "{{ website }}/api",
        "https://{{ host }}/api",
        "https://api.{{ tld }}/v1",
        "{{ scheme }}://api.example.com/v1",
        "https://api.example.com{{ rest }}",
        "https://api.example.com:{{ port }}/v1",
        "https://{% if x %}a{% else %}b{% endif %}.example.com/v1",
        "https://user{{ x }}@api.example.com/",
    ],
)
def test_a_url_whose_host_a_template_decides_is_refused_at_load(tmp_path: Path, url: str) -> None:
    with pytest.raises(WorkflowError, match="allowed_hosts") as caught:
        _workflow(tmp_path, f"  - id: call\n    type: http\n    url: '{url}'\n")
    assert "probe.yaml" in str(caught.value) and "url" in str(caught.value)
    # Declaring where the node may go makes the same URL acceptable.
    _workflow(
        tmp_path,
        f"  - id: call\n    type: http\n    allowed_hosts: [api.example.com]\n    url: '{url}'\n",
    )


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("url: 'ftp://api.example.com/x'", "http:// or https://"),
        ("url: 'https://user:pw@api.example.com/x'", "credentials"),
        ("url: 'api.example.com/x'", "http:// or https://"),
        ("allowed_hosts: ['https://api.example.com']\n    url: '{{ u }}'", "not a host name"),
        ("allowed_hosts: ['api.example.com/x']\n    url: '{{ u }}'", "not a host name"),
        ("allowed_hosts: ['*']\n    url: '{{ u }}'", "not a host name"),
    ],
)
def test_bad_urls_and_host_lists_are_refused_at_load(
    tmp_path: Path, field: str, message: str
) -> None:
    with pytest.raises(WorkflowError, match=message):
        _workflow(tmp_path, f"  - id: call\n    type: http\n    {field}\n")


# Loopback in the spellings resolvers accept. Each is a host the node declares, so only
# the address guard (after DNS) stands between the row and the server.
LOOPBACK_SPELLINGS = [
    "localhost",
    "localhost.",
    "127.0.0.1",
    "127.1",
    "127.0.1",
    "0x7f.1",
    "0x7f000001",
    "2130706433",
    "0177.0.0.1",
    "017700000001",
    "127.255.255.254",
    "0",
]


def test_rows_cannot_reach_loopback_in_any_spelling(
    store: LeadStore, tmp_path: Path, secret: str, caplog: pytest.LogCaptureFixture
) -> None:
    with EchoApi() as internal:
        hosts = ", ".join(f"'{h.rstrip('.')}'" for h in LOOPBACK_SPELLINGS)
        workflow = _workflow(
            tmp_path,
            "  - id: call\n    type: http\n"
            f"    allowed_hosts: [{hosts}]\n"
            f"    url: 'http://{{{{ host }}}}:{internal.port}/admin'\n"
            "    secret_headers: {X-Api-Key: PROBE_API_KEY}\n",
        )
        with caplog.at_level(logging.INFO, logger="lead_pipeline.providers"):
            results = _run(store, workflow, [{"host": h} for h in LOOPBACK_SPELLINGS])
        assert internal.requests == []
    assert len(results) == len(LOOPBACK_SPELLINGS)
    for result in results.values():
        assert result.status == FAILED
        # "localhost." has no address on some resolvers: that fails too, before any request.
        assert "refused" in (result.error or "") or "resolve" in (result.error or "")
        assert SECRET not in (result.error or "")
    assert "retrying" not in caplog.text  # a refusal is final, never retried


def test_a_host_the_node_does_not_declare_is_refused_before_dns(
    store: LeadStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    with EchoApi() as api, EchoApi() as other:
        monkeypatch.setenv(TRUSTED_HOSTS_ENV, f"127.0.0.1:{api.port},127.0.0.1:{other.port}")
        workflow = _workflow(
            tmp_path,
            "  - id: call\n    type: http\n"
            f"    allowed_hosts: ['127.0.0.1:{api.port}']\n"
            "    url: '{{ website }}/v1'\n"
            "    secret_headers: {X-Api-Key: PROBE_API_KEY}\n",
        )
        rows = [
            {"website": api.root_url},
            {"website": other.root_url},  # same address, another port: not declared
            {"website": f"http://127.0.0.1:{api.port}@127.0.0.1:{other.port}"},
            {"website": f"http://evil.test#@127.0.0.1:{api.port}"},
            {"website": f"ftp://127.0.0.1:{api.port}"},
            {"website": f"file:///etc/passwd?127.0.0.1:{api.port}"},
        ]
        results = _run(store, workflow, rows)
        assert results["row00"].status == OK
        for row in ("row01", "row02", "row03", "row04", "row05"):
            assert results[row].status == FAILED, row
            assert "refused" in (results[row].error or ""), results[row].error
        assert other.requests == []
        assert len(api.requests) == 1
        assert api.requests[0].headers["x-api-key"] == SECRET


def test_a_redirect_to_another_host_is_not_followed_and_the_secret_stays_home(
    store: LeadStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    with EchoApi() as internal, StubServer() as api:
        monkeypatch.setenv(TRUSTED_HOSTS_ENV, f"127.0.0.1:{api.port}")
        for target in (internal.url("/steal"), "http://169.254.169.254/latest", "file:///x"):
            api.script(Reply(status=302, headers={"Location": target}))
        workflow = _workflow(
            tmp_path,
            "  - id: call\n    type: http\n"
            f"    url: '{api.root_url}/v1/{{{{ name }}}}'\n"
            "    secret_headers: {X-Api-Key: PROBE_API_KEY}\n",
        )
        results = _run(store, workflow, [{"name": "a"}, {"name": "b"}, {"name": "c"}])
        assert internal.requests == []
        assert len(api.requests) == 3
    for result in results.values():
        assert result.status == FAILED
        assert "HTTP 302" in (result.error or "") and "redirect" in (result.error or "")
        assert SECRET not in (result.error or "")


def test_a_line_break_in_a_header_fails_the_row_and_sends_nothing(
    store: LeadStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with EchoApi() as api:
        monkeypatch.setenv(TRUSTED_HOSTS_ENV, f"127.0.0.1:{api.port}")
        workflow = _workflow(
            tmp_path,
            "  - id: call\n    type: http\n"
            f"    url: '{api.root_url}/v1'\n"
            "    headers: {X-Company: '{{ name }}'}\n",
        )
        rows = [{"name": "a\r\nX-Evil: 1"}, {"name": "b\nHost: evil.test"}, {"name": "c\x00"}]
        results = _run(store, workflow, rows)
        assert api.requests == []
    for result in results.values():
        assert result.status == FAILED
        assert "which a header cannot carry" in (result.error or "")


@pytest.mark.parametrize(
    "host", ["::1", "::ffff:127.0.0.1", "::ffff:7f00:1", "::127.0.0.1", "64:ff9b::7f00:1"]
)
async def test_ipv6_spellings_of_loopback_are_refused_with_the_secret_unsent(host: str) -> None:
    """IPv6 literals cannot be written in ``allowed_hosts``; the guard is tested below it."""
    policy = CallPolicy("probe", retry=RetryPolicy(max_attempts=3, base_delay=0.01))
    async with make_client() as client:
        with pytest.raises(BlockedURL, match="refused"):
            await request_json(
                client,
                policy,
                "GET",
                f"http://[{host}]:9/x",
                headers={"X-Api-Key": SECRET},
                secret=SECRET,
                guard=UrlGuard(),
                hosts=HostList(frozenset({(host, None)})),
            )


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "gopher://127.0.0.1/x", "ws://x.test/"])
async def test_an_unsupported_scheme_fails_at_once_even_without_the_guard(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    policy = CallPolicy("probe", retry=RetryPolicy(max_attempts=4, base_delay=0.01))
    async with make_client() as client:
        with (
            caplog.at_level(logging.INFO, logger="lead_pipeline.providers"),
            pytest.raises(ProviderError) as caught,
        ):
            await request_json(client, policy, "GET", url)
    assert not caught.value.retryable
    assert "retrying" not in caplog.text


def test_a_bomb_in_one_row_fails_that_row_and_the_shard_goes_on(
    store: LeadStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Row values that drive a template or an expression past its budget fail their own row
    with the reason; the other rows of the same shard finish."""
    with EchoApi() as api:
        monkeypatch.setenv(TRUSTED_HOSTS_ENV, f"127.0.0.1:{api.port}")
        folder = tmp_path / "wf"
        folder.mkdir()
        (folder / "probe.yaml").write_text(
            "name: probe\nnodes:\n"
            "  - id: calc\n    type: expression\n"
            "    values: {huge: '(big * big) * (big * big)'}\n"
            "    outputs: {huge: number}\n"
            "  - id: call\n    type: http\n    method: POST\n"
            f"    url: '{api.root_url}/v1/{{{{ name }}}}'\n"
            "    body:\n"
            "      loops: '{% for a in range(n) %}{% for b in range(n) %}{% endfor %}"
            "{% endfor %}{{ name }}'\n"
            "      padded: '{{ name|center(width) }}'\n"
            "    extract: {path: path}\n    outputs: {path: string}\n"
        )
        (workflow,) = load_workflows([folder], builtin_dirs=[], node_types=registry())
        ok = {"n": 3, "width": 10, "big": 7}
        rows = [
            ("ok-1", {"name": "a", **ok}),
            ("loops", {"name": "b", **ok, "n": 99999}),
            ("width", {"name": "c", **ok, "width": 10**9}),
            ("bigint", {"name": "d", **ok, "big": 10**4000}),
            ("ok-2", {"name": "e", **ok}),
        ]
        store.import_rows("demo", rows)
        options = RunOptions(parallel=5)
        selection = select_rows(store, workflow, "demo", options)
        [shard] = make_shards(selection, options)
        summary = run_shard(store, workflow, shard, options)
        results = store.results("demo")
    assert (summary.ok, summary.failed) == (2, 3)
    assert results["ok-1"][("probe", "call")].outputs == {"path": "/v1/a"}
    assert results["ok-2"][("probe", "call")].status == OK
    assert "took more than" in (results["loops"][("probe", "call")].error or "")
    assert "would build" in (results["width"][("probe", "call")].error or "")
    assert "bits" in (results["bigint"][("probe", "calc")].error or "")
    assert sorted(r.path for r in api.requests) == ["/v1/a", "/v1/e"]
