"""Hostile lead data and names, met where a real run meets them.

Lead data is untrusted: a "website" may point at the machine's own services or
the cloud metadata address, a page may never end, redirects may loop. These go
through the ``fetch_page`` node in a workflow run (selection, shard runner,
store), not only through the fetcher: each row fails with a clear error, or is
cut to size, and nothing behind a private address is reached. Names aimed at
paths or SQL are refused at every entry point before they become a file name, a
partition key or a query.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lead_pipeline.defs.partitions import LEAD_LISTS
from lead_pipeline.defs.partitions import instance as dagster_instance
from lead_pipeline.engine.compile import CompiledWorkflow
from lead_pipeline.engine.options import RunOptions
from lead_pipeline.engine.registry import registry
from lead_pipeline.engine.runner import run_shard
from lead_pipeline.engine.selection import make_shards, select_rows
from lead_pipeline.engine.summary import RunSummary
from lead_pipeline.launching.launch import enrich
from lead_pipeline.leads import export_list
from lead_pipeline.leads.exporter import default_export_path
from lead_pipeline.providers.urlguard import ALLOW_PRIVATE_ENV, TRUSTED_HOSTS_ENV
from lead_pipeline.store import FAILED, OK, InvalidNameError, LeadStore, check_name
from lead_pipeline.workflows.loader import load_workflows
from lead_pipeline_tests.reliability.harness import write_workflow
from lead_pipeline_tests.servers import WebServer, html_page, huge_page, redirect

MAX_CHARS = 2_000
WORKFLOW = f"""\
name: pages
nodes:
  - id: page
    type: fetch_page
    max_bytes: 50000
    max_chars: {MAX_CHARS}
    timeout: 5
    outputs: {{page_text: string, page_title: string}}
"""
ABOUT = "Acme sells anvils to construction companies across Europe on annual contracts. " * 3


@pytest.fixture
def pages(tmp_path: Path) -> CompiledWorkflow:
    (workflow,) = load_workflows(
        [write_workflow(tmp_path / "wf", WORKFLOW, "pages")], builtin_dirs=[], node_types=registry()
    )
    return workflow


@pytest.fixture
def store() -> Iterator[LeadStore]:
    """The default SQLite store: the names are refused before any query, on any backend."""
    lead_store = LeadStore()
    yield lead_store
    lead_store.dispose()


def run_workflow(
    store: LeadStore, workflow: CompiledWorkflow, websites: dict[str, str]
) -> RunSummary:
    """A workflow run as the Dagster asset does it: select, shard, run every shard."""
    store.import_rows("hostile", [(row, {"website": url}) for row, url in websites.items()])
    options = RunOptions(parallel=4)
    selection = select_rows(store, workflow, "hostile", options)
    summary = RunSummary(lead_list="hostile", workflow=workflow.name)
    return summary.merge(
        run_shard(store, workflow, s, options) for s in make_shards(selection, options)
    )


def outcomes(store: LeadStore) -> dict[str, tuple[str, str]]:
    return {
        row: (r.status, r.error or "")
        for row, found in store.results("hostile").items()
        for r in found.values()
    }


def test_websites_aimed_at_private_addresses_fail_and_reach_nothing(
    store: LeadStore, pages: CompiledWorkflow
) -> None:
    with WebServer({"/": html_page("Internal admin", "secret")}) as internal:
        port = internal.port
        websites = {
            "loopback": f"http://127.0.0.1:{port}/",
            "localhost": f"http://localhost:{port}/",
            "bare-host-port": f"127.0.0.1:{port}",
            "ipv4-mapped": f"http://[::ffff:127.0.0.1]:{port}/",
            "decimal-ip": f"http://2130706433:{port}/",
            "hex-ip": f"http://0x7f.0.0.1:{port}/",
            "with-credentials": f"http://admin:admin@127.0.0.1:{port}/",
            "cloud-metadata": "http://169.254.169.254/latest/meta-data/iam/",
            "ten-net": "http://10.0.0.1/",
            "ten-net-port": "http://10.255.255.254:8080/admin",
            "file": "file:///etc/passwd",
            "gopher": f"gopher://127.0.0.1:{port}/",
        }
        summary = run_workflow(store, pages, websites)
        assert internal.count() == 0  # not one request reached the private server
    assert (summary.ok, summary.failed) == (0, len(websites))
    found = outcomes(store)
    for row in websites:
        status, error = found[row]
        assert status == FAILED and error.startswith("refused"), (row, error)
    assert "loopback address" in found["loopback"][1]
    assert "link-local address 169.254.169.254" in found["cloud-metadata"][1]
    assert "private address 10.0.0.1" in found["ten-net"][1]
    assert "scheme 'file'" in found["file"][1]
    assert "credentials" in found["with-credentials"][1]


def test_huge_pages_are_cut_and_redirect_tricks_fail_clearly(
    store: LeadStore, pages: CompiledWorkflow, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The operator allows the intranet (the stand-in on 127.0.0.1): what is left to
    # guard against is the pages themselves.
    monkeypatch.setenv(ALLOW_PRIVATE_ENV, "1")
    routes = {
        "/fine": html_page("Acme", ABOUT),
        "/huge": huge_page(50_000_000),
        "/loop-a": redirect("/loop-b"),
        "/loop-b": redirect("/loop-a"),
        "/to-file": redirect("file:///etc/passwd"),
        "/to-gopher": redirect("gopher://127.0.0.1:70/"),
        **{f"/hop{i}": redirect(f"/hop{i + 1}") for i in range(10)},
    }
    with WebServer(routes) as site:
        websites = {
            "fine": site.url("/fine"),
            "huge": site.url("/huge"),
            "loop": site.url("/loop-a"),
            "to-file": site.url("/to-file"),
            "to-gopher": site.url("/to-gopher"),
            "endless": site.url("/hop0"),
        }
        summary = run_workflow(store, pages, websites)
        assert site.count("/loop-a") == 1 and site.count("/loop-b") == 1
        assert site.count("/hop6") == 0  # five redirects followed, the sixth refused
    assert (summary.ok, summary.failed) == (2, 4)
    found = outcomes(store)
    assert found["fine"][0] == OK and found["huge"][0] == OK
    assert "redirect loop" in found["loop"][1]
    assert "refused URL with scheme 'file'" in found["to-file"][1]
    assert "refused URL with scheme 'gopher'" in found["to-gopher"][1]
    assert "too many redirects" in found["endless"][1]
    frame = store.wide_frame("hostile").set_index("_id")
    assert "anvils" in frame.loc["fine", "page_text"]
    huge = frame.loc["huge", "page_text"]
    assert "lorem ipsum" in huge and len(huge) <= MAX_CHARS  # cut, however big the page


def test_a_redirect_from_a_trusted_site_into_a_private_address_is_refused(
    store: LeadStore, pages: CompiledWorkflow, monkeypatch: pytest.MonkeyPatch
) -> None:
    with WebServer({"/": html_page("Internal admin", "secret")}) as internal:
        routes = {
            "/fine": html_page("Acme", ABOUT),
            "/to-internal": redirect(f"http://127.0.0.1:{internal.port}/"),
            "/to-metadata": redirect("http://169.254.169.254/latest/meta-data/"),
        }
        with WebServer(routes) as site:
            # The operator vouches for this one site (by name and port), nothing else.
            monkeypatch.setenv(TRUSTED_HOSTS_ENV, f"localhost:{site.port}")
            base = f"http://localhost:{site.port}"
            websites = {
                "fine": f"{base}/fine",
                "to-internal": f"{base}/to-internal",
                "to-metadata": f"{base}/to-metadata",
                "internal-directly": f"http://127.0.0.1:{internal.port}/",
            }
            summary = run_workflow(store, pages, websites)
            assert site.count("/to-internal") == 1
        assert internal.count() == 0  # the redirect was refused before any connection
    assert (summary.ok, summary.failed) == (1, 3)
    found = outcomes(store)
    assert found["fine"][0] == OK
    assert "loopback address" in found["to-internal"][1]
    assert "link-local address 169.254.169.254" in found["to-metadata"][1]
    assert "loopback address" in found["internal-directly"][1]


HOSTILE_NAMES = [
    "../../etc/passwd",
    "..",
    "/tmp/x",
    "a/../../b",
    "crm'; DROP TABLE leads; --",
    'crm" OR "1"="1',
    "crm\n",  # a trailing newline slips past a regex that ends in $
    "crm\x00",
    "CRM",
    "",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_list_names_are_refused_at_every_entry_point(
    name: str, store: LeadStore, tmp_path: Path
) -> None:
    with pytest.raises(InvalidNameError):
        check_name(name)
    with pytest.raises(InvalidNameError):
        store.import_rows(name, [("a", {"name": "A"})])
    with pytest.raises(InvalidNameError):
        default_export_path(name, "csv")
    with pytest.raises(InvalidNameError):
        export_list(store, name, "csv")
    with pytest.raises(InvalidNameError):
        enrich(name, store=store)
    with pytest.raises(InvalidNameError):
        store.acquire_run_lock(name, "wf", "run-1", 60)
    assert store.lists() == []
    assert dagster_instance().get_dynamic_partitions(LEAD_LISTS) == []
    assert not (tmp_path / "lp-data" / "exports").exists()
