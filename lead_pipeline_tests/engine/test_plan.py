"""The plan before a run: rows and why, calls, cache hits, cost range; nothing called or written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lead_pipeline.engine.compile import CompiledWorkflow
from lead_pipeline.engine.options import RunOptions
from lead_pipeline.engine.plan import confirm_above_usd, may_cost, plan_run, render_plan
from lead_pipeline.engine.registry import registry
from lead_pipeline.settings import SettingsError, get_settings
from lead_pipeline.store import LeadStore
from lead_pipeline.workflows.loader import BUILTIN_DIR, load_workflows
from lead_pipeline_tests.engine.test_runner import materialize
from lead_pipeline_tests.engine.test_work_email import founders, leads
from lead_pipeline_tests.servers import HunterServer, Reply, SerperServer

HUNTER_MAX = 0.0245 + 0.01225  # a match, and its verification


@pytest.fixture
def builtins() -> dict[str, CompiledWorkflow]:
    return {
        w.name: w for w in load_workflows([], builtin_dirs=[BUILTIN_DIR], node_types=registry())
    }


@pytest.fixture
def hunter(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    for name in ("APOLLO_API_KEY", "PDL_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LEAD_PIPELINE_RETRY", '{"max_attempts": 1}')
    with HunterServer({("ada lovelace", "acme.com"): {"email": "ada@acme.com"}}) as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        yield server


ROWS: dict[str, dict[str, Any]] = {
    "acme.com": {
        "name": "Acme",
        "website": "acme.com",
        "founders": founders("Ada Lovelace", "Bob Builder"),
    },
    "globex.io": {"name": "Globex", "website": "globex.io", "founders": founders("Grace Hopper")},
    "solo.dev": {"name": "Solo", "website": "solo.dev", "founders": []},
}


def plan_of(store: LeadStore, *workflows: CompiledWorkflow, **options: Any):  # type: ignore[no-untyped-def]
    return plan_run(
        store, "demo", list(workflows), lambda _w: RunOptions(**options), settings=get_settings()
    )


def test_the_plan_prices_rows_and_calls_nothing_and_writes_nothing(
    store: LeadStore, builtins, hunter: HunterServer
) -> None:
    leads(store, ROWS)
    plan = plan_of(store, builtins["founder_email"])
    (wf,) = plan.workflows
    (find,) = wf.nodes
    assert (wf.rows, wf.reasons["missing"], wf.not_eligible) == (2, 2, 1)
    assert (find.provider, find.rows, find.calls_min, find.calls_max) == ("hunter", 2, 3, 6)
    assert find.cost_min == 0.0  # finders charge per match: nothing found costs nothing
    assert find.cost_max == pytest.approx(3 * HUNTER_MAX)
    assert hunter.requests == []
    assert store.results("demo", ["founder_email"]) == {}  # not even the "where is false" skips
    text = "\n".join(render_plan(plan))
    assert "2 of 3 rows to process (2 missing)" in text and "$0.0000-$0.1103" in text


def test_after_a_run_the_plan_knows_failed_rows_and_the_cache(
    store: LeadStore, builtins, hunter: HunterServer
) -> None:
    workflow = builtins["founder_email"]
    leads(store, ROWS)
    # One row at a time: Ada's lookup and verification pass, Bob's lookup meets an outage.
    hunter.script(
        lambda r: hunter.handle(r),
        lambda r: hunter.handle(r),
        Reply(status=500, json={"error": "down"}),
    )
    first = materialize(store, workflow, parallel=1)
    assert (first.ok, first.failed) == (1, 1)
    plan = plan_of(store, workflow)
    assert dict(plan.workflows[0].reasons) == {"failed": 1}
    again = plan_of(store, workflow, force=True)
    (find,) = again.workflows[0].nodes
    assert dict(again.workflows[0].reasons) == {"forced": 2}
    assert find.cached == 2  # Ada's match and Grace's "no match" are in the cache
    assert find.cost_max == pytest.approx(HUNTER_MAX)  # only Bob's lookup would be paid for
    assert not plan_of(store, workflow, retry_failed=False).workflows[0].nodes[0].cost_min


def test_a_chain_counts_rows_an_earlier_workflow_may_open(
    store: LeadStore, builtins, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    with SerperServer() as serper:
        for name, value in serper.env().items():
            monkeypatch.setenv(name, value)
        store.import_rows(
            "demo", [(f"c{i}", {"name": f"Co {i}", "website": f"co{i}.com"}) for i in range(4)]
        )
        plan = plan_of(store, builtins["b2b_only"], builtins["founder_linkedin"], parallel=2)
    b2b, linkedin = plan.workflows
    assert b2b.rows == 4 and b2b.nodes[0].calls_max == 0  # the offline model is free
    assert (linkedin.rows, linkedin.possible) == (0, 4)
    search = linkedin.nodes[0]
    assert (search.calls_min, search.calls_max) == (0, 4)
    assert search.cost_max == pytest.approx(4 * 0.001)
    assert serper.requests == []


def test_only_a_run_that_may_call_a_provider_is_priced(
    builtins, hunter: HunterServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "SERPER_API_KEY", "BRAVE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "tidy.yaml").write_text(
        "name: tidy\nnodes:\n  - {id: d, type: expression, values: {site: 'domain(website)'}, "
        "outputs: {site: string}}\n"
    )
    (tidy,) = load_workflows([folder], builtin_dirs=[], node_types=registry())

    def paid(*workflows: CompiledWorkflow) -> bool:
        return may_cost(list(workflows), lambda _w: RunOptions(), settings=get_settings())

    assert not paid(tidy)
    assert not paid(builtins["b2b_only"])  # the offline model; no LLM backend to ask
    assert not paid(builtins["founder_linkedin"])  # no search key: it would be skipped
    assert paid(builtins["founder_email"])  # Hunter is configured
    assert paid(tidy, builtins["founder_email"])
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789abcdef")
    assert paid(builtins["b2b_only"])  # the LLM pass may run
    assert hunter.requests == []


def test_the_confirmation_threshold_is_read_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEAD_PIPELINE_CONFIRM_ABOVE_USD", raising=False)
    assert confirm_above_usd() == 1.0
    monkeypatch.setenv("LEAD_PIPELINE_CONFIRM_ABOVE_USD", "25")
    assert confirm_above_usd() == 25.0
    monkeypatch.setenv("LEAD_PIPELINE_CONFIRM_ABOVE_USD", "lots")
    with pytest.raises(SettingsError, match="LEAD_PIPELINE_CONFIRM_ABOVE_USD"):
        confirm_above_usd()


def test_enrich_plan_prints_and_runs_nothing(
    capsys: pytest.CaptureFixture[str], hunter: HunterServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lead_pipeline.cli import main

    for name in ("SERPER_API_KEY", "BRAVE_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    store = LeadStore()
    leads(store, ROWS)
    code = main(["enrich", "--lead", "demo", "--workflow", "founder_email", "--plan"])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert "founder_email: 2 of 3 rows to process (2 missing)" in out
    assert "Total: $0.0000-$0.1103" in out
    assert hunter.requests == [] and store.results("demo", ["founder_email"]) == {}


def test_enrich_above_the_threshold_without_a_terminal_is_refused(
    capsys: pytest.CaptureFixture[str], hunter: HunterServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lead_pipeline.cli import main

    monkeypatch.setenv("LEAD_PIPELINE_CONFIRM_ABOVE_USD", "0.05")
    store = LeadStore()
    leads(store, ROWS)
    code = main(["enrich", "--lead", "demo", "--workflow", "founder_email"])
    out, err = capsys.readouterr()
    assert code == 2
    assert "may cost up to $0.11, above LEAD_PIPELINE_CONFIRM_ABOVE_USD ($0.05)" in err
    assert "--yes" in err and "Total: $0.0000-$0.1103" in out  # the plan is shown first
    assert hunter.requests == [] and store.results("demo", ["founder_email"]) == {}
    monkeypatch.setenv("LEAD_PIPELINE_CONFIRM_ABOVE_USD", "lots")
    code = main(["enrich", "--lead", "demo", "--workflow", "founder_email"])
    assert (
        code == 2
        and "LEAD_PIPELINE_CONFIRM_ABOVE_USD: Input should be a valid number"
        in capsys.readouterr().err
    )


def test_a_cap_under_the_threshold_or_yes_needs_no_question(
    store: LeadStore, builtins, hunter: HunterServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lead_pipeline.cli.common import CliError
    from lead_pipeline.cli.spend import confirm

    monkeypatch.setenv("LEAD_PIPELINE_CONFIRM_ABOVE_USD", "0.05")
    leads(store, ROWS)
    plan = plan_of(store, builtins["founder_email"])
    confirm(plan, yes=False, max_cost=0.04)  # the run cannot spend more than its cap
    confirm(plan, yes=True, max_cost=None)
    with pytest.raises(CliError, match="no terminal"):
        confirm(plan, yes=False, max_cost=0.5)


def test_a_model_with_no_price_is_named_in_the_plan(
    store: LeadStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789abcdef")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # never called
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "ask.yaml").write_text(
        "name: ask\nnodes:\n"
        "  - {id: q, type: llm, model: unlisted-plan-llm, prompt: 'Is {{ name }} B2B?', "
        "outputs: {is_b2b: boolean}}\n"
    )
    (workflow,) = load_workflows([folder], builtin_dirs=[], node_types=registry())
    leads(store, ROWS)
    plan = plan_of(store, workflow)
    assert plan.unpriced == ["unlisted-plan-llm"]
    assert plan.cost_max == 0.0
    text = "\n".join(render_plan(plan))
    assert "No price known for 'unlisted-plan-llm': counted as $0" in text
    assert "LEAD_PIPELINE_PRICES" in text
