"""Prices that can apply or none: ``LEAD_PIPELINE_PRICES`` prices an ``http`` node's
provider per request (the node's ``cost_per_request`` otherwise), a token price for it is
refused when the workflow loads, and a bad table is refused before any run or plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from lead_pipeline.cli import main
from lead_pipeline.engine.registry import registry
from lead_pipeline.store import LeadStore
from lead_pipeline.workflows import WorkflowError
from lead_pipeline.workflows.loader import load_workflows
from lead_pipeline_tests.engine.conftest import CompanyApi
from lead_pipeline_tests.engine.test_runner import materialize

PRICED = """\
name: priced
nodes:
  - id: profile
    type: http
    url: "{base}/profile"
    params: {{name: "{{{{ name }}}}"}}
    extract: {{size: "profile.size"}}
    provider: sizes
    cost_per_request: {cost}
    outputs: {{size: integer}}
"""


def write(tmp_path: Path, api: CompanyApi, cost: str = "0.01") -> Path:
    folder = tmp_path / "priced"
    folder.mkdir(exist_ok=True)
    (folder / "priced.yaml").write_text(PRICED.format(base=api.root_url, cost=cost))
    return folder


def test_the_prices_table_prices_an_http_provider_per_request(
    leads: LeadStore, api: CompanyApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEAD_PIPELINE_PRICES", '{"sizes": 0.25}')
    [workflow] = load_workflows([write(tmp_path, api)], builtin_dirs=[], node_types=registry())
    summary = materialize(leads, workflow, parallel=2)
    assert summary.ok == 7 and api.count("/profile") == 7
    assert summary.cost == pytest.approx(7 * 0.25)  # not the node's own $0.01
    [status] = [w for w in leads.status("demo").workflows if w.workflow == "priced"]
    assert status.cost == pytest.approx(7 * 0.25)


def test_the_cap_holds_at_the_table_s_price(
    leads: LeadStore, api: CompanyApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEAD_PIPELINE_PRICES", '{"sizes": 0.25}')
    [workflow] = load_workflows([write(tmp_path, api)], builtin_dirs=[], node_types=registry())
    summary = materialize(leads, workflow, parallel=4, max_cost=0.6)
    assert api.count("/profile") == 2  # two calls at $0.25 fit $0.6, a third does not
    assert summary.cost == pytest.approx(0.5)


def test_a_token_price_for_an_http_provider_is_refused_with_the_file(
    api: CompanyApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEAD_PIPELINE_PRICES", '{"sizes": [1, 2]}')
    with pytest.raises(WorkflowError) as caught:
        load_workflows([write(tmp_path, api)], builtin_dirs=[], node_types=registry())
    [problem] = caught.value.problems
    assert "priced.yaml" in problem and "LEAD_PIPELINE_PRICES prices 'sizes' per token" in problem


@pytest.mark.parametrize("cost", ["-1", ".inf", ".nan", "1e400", "20000"])
def test_a_cost_per_request_that_is_not_a_price_is_refused(
    api: CompanyApi, tmp_path: Path, cost: str
) -> None:
    with pytest.raises(WorkflowError) as caught:
        load_workflows([write(tmp_path, api, cost)], builtin_dirs=[], node_types=registry())
    [problem] = caught.value.problems
    assert "priced.yaml" in problem and "cost_per_request" in problem


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ('{"x": 1e400}', "entry 'x': inf is not a price (JSON reads a number as large as 1e400"),
        ('{"serper": [1, 2]}', "entry 'serper': serper is priced per request"),
        ('{"hubspot": 0.1}', "entry 'hubspot': hubspot calls are not billed per call"),
        ('{"x": -0.5}', "entry 'x': -0.5 is not a price"),
    ],
)
def test_enrich_plan_refuses_a_bad_prices_table_in_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, raw: str, message: str
) -> None:
    monkeypatch.setenv("LEAD_PIPELINE_PRICES", raw)
    code = main(["enrich", "--lead", "demo", "--plan"])
    out, err = capsys.readouterr()
    assert code == 2
    assert f"LEAD_PIPELINE_PRICES: {message}" in err
    assert "Traceback" not in out + err and len(err.strip().splitlines()) == 1
