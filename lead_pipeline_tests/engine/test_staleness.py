"""Staleness follows the data: what each node read is hashed, and only what changed re-runs.

Every test runs the real engine against the ``CompanyApi`` server on 127.0.0.1,
which records each request, so "the provider was asked for exactly these
companies" is counted at the wire.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from lead_pipeline.engine.compile import CompiledWorkflow
from lead_pipeline.engine.options import RunOptions
from lead_pipeline.engine.registry import registry
from lead_pipeline.engine.runner import run_shard
from lead_pipeline.engine.selection import make_shards, select_rows, stale_counts
from lead_pipeline.engine.summary import RunSummary
from lead_pipeline.store import OK, SKIPPED, LeadStore
from lead_pipeline.store.shared import utcnow
from lead_pipeline.workflows import WorkflowError
from lead_pipeline.workflows.loader import load_workflows
from lead_pipeline_tests.engine.conftest import NAMES, CompanyApi


def run(
    store: LeadStore, workflow: CompiledWorkflow, now: Any = None, **options: Any
) -> RunSummary:
    opts = RunOptions(**options)
    selection = select_rows(store, workflow, "demo", opts, now=now)
    summary = RunSummary(
        lead_list="demo",
        workflow=workflow.name,
        selected=len(selection.work),
        up_to_date=selection.up_to_date,
        not_eligible=selection.not_eligible,
        held_back=selection.held_back,
    )
    clock = (lambda: now) if now is not None else utcnow
    shards = make_shards(selection, opts)
    return summary.merge(run_shard(store, workflow, s, opts, clock=clock) for s in shards)


def asked(api: CompanyApi, path: str = "/profile") -> list[str]:
    return sorted(r.param("name") or "" for r in api.requests if r.path == path)


def compile_one(folder: Path, name: str, text: str) -> dict[str, CompiledWorkflow]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.yaml").write_text(text)
    return {w.name: w for w in load_workflows([folder], builtin_dirs=[], node_types=registry())}


def rows(names: list[str | None], **extra: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for i, name in enumerate(names):
        fields: dict[str, Any] = {"name": name, "notes": "first import"}
        fields.update(extra.get(f"row{i}", {}))
        out.append((f"row{i}", fields))
    return out


# --------------------------------------------------------------------------- re-import


def test_a_reimport_reruns_exactly_the_rows_whose_inputs_changed(
    leads, workflows, api: CompanyApi
) -> None:
    first = run(leads, workflows["scoring"])
    assert first.ok == 6
    api.reset()
    changed = list(NAMES)
    changed[1], changed[4] = "Globex Corporation", "Umbrella Corp"
    # row3's notes change too, but no node reads notes: it must not re-run.
    report = leads.import_rows("demo", rows(changed, row3={"notes": "second import"}))
    assert report.updated == 7  # every row gained a notes column; only some changed inputs

    summary = run(leads, workflows["scoring"])
    assert (summary.ok, summary.up_to_date) == (2, 4)
    assert asked(api) == ["Globex Corporation", "Umbrella Corp"]
    assert api.count("/score") == 2  # their sizes changed, so the second node followed

    api.reset()
    again = run(leads, workflows["scoring"])
    assert (again.ok, again.up_to_date, len(api.requests)) == (0, 6, 0)


def test_a_node_whose_own_inputs_did_not_change_is_not_rerun(
    leads, workflows, api: CompanyApi
) -> None:
    run(leads, workflows["scoring"])
    api.reset()
    # "Acme" -> "Emca": a new name (profile re-runs) of the same length, so the same
    # size: the score node reads only _id and size, and is left alone.
    changed = list(NAMES)
    changed[0] = "Emca"
    leads.import_rows("demo", rows(changed))
    summary = run(leads, workflows["scoring"])
    assert summary.ok == 1
    assert asked(api) == ["Emca"]
    assert api.count("/score") == 0


def test_downstream_workflows_follow_the_outputs_that_changed(
    leads, workflows, api: CompanyApi
) -> None:
    run(leads, workflows["scoring"])
    first = run(leads, workflows["ranking"])  # where score >= 0.5
    assert (first.ok, first.not_eligible) == (5, 2)
    changed = list(NAMES)
    changed[0] = "Acme Industries"  # score 0.4 -> 1.5: enters ranking's where
    changed[4] = "Umb"  # score 0.8 -> 0.3: leaves it
    changed[5] = "Hooli Inc"  # score 0.5 -> 0.9: stays in, with a new score
    leads.import_rows("demo", rows(changed))
    run(leads, workflows["scoring"])

    second = run(leads, workflows["ranking"])
    assert second.ok == 2  # Acme (new in scope) and Hooli (input changed)
    assert second.up_to_date == 3
    frame = leads.wide_frame("demo").set_index("_id")
    assert frame.loc["row0", "rank"] == 15.0
    assert frame.loc["row5", "rank"] == 9.0
    # A row that left the filter loses its old result: the export shows today's decision.
    assert frame.loc["row4", "rank"] is None
    left = leads.results("demo")["row4"][("ranking", "rank")]
    assert left.status == SKIPPED and left.error.startswith("where is false")
    assert left.outputs is None


# --------------------------------------------------------------------------- parameters

PARAM_WORKFLOW = """\
name: gated
params:
  min_size: 50
  label: {{type: string, default: "v1"}}
nodes:
  - id: profile
    type: http
    url: "{base}/profile"
    params: {{name: "{{{{ name }}}}"}}
    extract: {{size: "profile.size"}}
    outputs: {{size: integer}}
  - id: score
    type: http
    method: POST
    when: "size > params.min_size"
    url: "{base}/score"
    body: {{row: "{{{{ _id }}}}", size: "{{{{ size }}}}"}}
    extract: {{score: "score"}}
    outputs: {{score: number}}
  - id: tag
    type: expression
    values: {{tag: "params.label"}}
    outputs: {{tag: string}}
"""


@pytest.fixture
def gated(tmp_path: Path, api: CompanyApi) -> CompiledWorkflow:
    text = PARAM_WORKFLOW.format(base=api.root_url)
    return compile_one(tmp_path / "gated", "gated", text)["gated"]


def score_rows(api: CompanyApi) -> list[str]:
    import json

    return sorted(json.loads(r.body)["row"] for r in api.requests if r.path == "/score")


def test_a_parameter_change_reruns_only_the_rows_whose_when_outcome_changed(
    leads, gated, api: CompanyApi
) -> None:
    # sizes: Acme 40, Globex 60, Initech 70, Umbrella 80, Hooli 50, Vandelay 80; row2 no name
    run(leads, gated, params={"min_size": "50"})
    assert score_rows(api) == ["row1", "row3", "row4", "row6"]
    api.reset()

    summary = run(leads, gated, params={"min_size": "70"})
    # Globex (60) and Initech (70) drop out of the guard: re-run to record the skip,
    # without asking the provider; nothing else is touched.
    assert summary.ok == 2
    assert len(api.requests) == 0
    found = leads.results("demo")
    assert found["row1"][("gated", "score")].status == SKIPPED
    assert found["row3"][("gated", "score")].status == SKIPPED
    assert found["row4"][("gated", "score")].status == OK  # Umbrella 80 stays in

    api.reset()
    run(leads, gated, params={"min_size": "45"})
    assert score_rows(api) == ["row1", "row3", "row5"]  # Globex, Initech, Hooli 50 > 45
    assert asked(api) == []  # the first node never read min_size


def test_a_parameter_read_in_a_node_body_reruns_that_node_for_every_row(
    leads, gated, api: CompanyApi
) -> None:
    run(leads, gated)
    api.reset()
    summary = run(leads, gated, params={"label": "v2"})
    assert summary.ok == 7
    assert len(api.requests) == 0  # only the expression node reads label
    frame = leads.wide_frame("demo").set_index("_id")
    assert set(frame["tag"]) == {"v2"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [("abc", "expected an integer, got 'abc'"), ("1.5", "expected an integer"), ("nan", "finite")],
)
def test_parameters_are_typed(leads, gated, value: str, expected: str) -> None:
    with pytest.raises(WorkflowError, match=rf"parameter 'min_size': .*{expected}"):
        select_rows(leads, gated, "demo", RunOptions(params={"min_size": value}))
    assert leads.results("demo") == {}  # refused before any row


def test_a_declared_parameter_type_is_enforced_on_its_default(tmp_path: Path) -> None:
    text = (
        "name: x\nparams:\n  t: {type: number, default: high}\nnodes:\n"
        "  - {id: a, type: expression, values: {b: '1'}}\n"
    )
    with pytest.raises(WorkflowError, match=r"params\.t.*expected a number, got 'high'"):
        compile_one(tmp_path / "typed", "x", text)


# --------------------------------------------------------------------------- freshness

AGED = """\
name: aged
nodes:
  - id: profile
    type: http
    max_age: 30d
    url: "{base}/profile"
    params: {{name: "{{{{ name }}}}"}}
    extract: {{size: "profile.size"}}
    outputs: {{size: integer}}
  - id: double
    type: expression
    values: {{double: "size * 2"}}
    outputs: {{double: integer}}
"""


def test_results_older_than_max_age_are_redone(leads, tmp_path: Path, api: CompanyApi) -> None:
    workflow = compile_one(tmp_path / "aged", "aged", AGED.format(base=api.root_url))["aged"]
    start = utcnow()
    run(leads, workflow, now=start)
    api.reset()

    assert run(leads, workflow, now=start + timedelta(days=29)).ok == 0
    assert stale_counts(leads, workflow, "demo", now=start + timedelta(days=31)) == {"age": 7}
    summary = run(leads, workflow, now=start + timedelta(days=31))
    assert summary.ok == 7
    assert api.count("/profile") == 7  # every row's search aged, row2's (no name) too
    assert run(leads, workflow, now=start + timedelta(days=32)).ok == 0


# --------------------------------------------------------------------------- columns and inputs


def test_a_misspelt_column_is_refused_before_any_row_runs(
    leads, tmp_path: Path, api: CompanyApi
) -> None:
    text = (
        "name: lengths\nnodes:\n"
        "  - {id: count, type: expression, values: {name_length: 'len(nme)'}, "
        "outputs: {name_length: integer}}\n"
    )
    workflow = compile_one(tmp_path / "typo", "lengths", text)["lengths"]
    with pytest.raises(WorkflowError) as caught:
        select_rows(leads, workflow, "demo", RunOptions())
    message = str(caught.value)
    assert "lengths.yaml: node 'count' field 'values.name_length'" in message
    assert "reads column 'nme'" in message and "did you mean 'name'?" in message
    assert leads.results("demo") == {}


def test_a_column_the_list_has_is_accepted(leads, tmp_path: Path) -> None:
    leads.import_rows("demo", rows(NAMES, row0={"employees": "12"}))
    text = (
        "name: staff\nnodes:\n"
        "  - {id: count, type: expression, values: {staff: 'employees'},"
        " outputs: {staff: {type: string, optional: true}}}\n"
    )
    workflow = compile_one(tmp_path / "staff", "staff", text)["staff"]
    assert run(leads, workflow).ok == 7  # present in one row is enough: others read null


@pytest.mark.parametrize(
    "template",
    [
        "{{ row['name'] }}",  # a dict the engine does not provide
        "{{ self.name }}",
        "{% set r = namespace(v=nme) %}{{ r.v }}",
    ],
)
def test_hostile_templates_cannot_read_a_column_unseen(
    leads, tmp_path: Path, api: CompanyApi, template: str
) -> None:
    text = (
        "name: sneaky\nnodes:\n"
        f'  - id: call\n    type: http\n    url: "{api.root_url}/profile"\n'
        f'    params: {{name: "{template}"}}\n'
        "    extract: {size: 'profile.size'}\n    outputs: {size: integer}\n"
    )
    try:
        workflow = compile_one(tmp_path / "sneaky", "sneaky", text)["sneaky"]
    except WorkflowError:
        return  # refused when the workflow loads: fine
    try:
        summary = run(leads, workflow)
    except WorkflowError:
        assert api.count("/profile") == 0
        return  # refused before any row: fine
    # If it ran at all, no request may carry a company's name: it never saw one.
    assert summary.ok == 0 or all(r.param("name") in ("", None) for r in api.requests)
    assert not any(r.param("name") in NAMES for r in api.requests)


def test_reading_a_later_nodes_output_is_refused_at_load(tmp_path: Path) -> None:
    text = (
        "name: backwards\nnodes:\n"
        "  - {id: first, type: expression, values: {a: 'b + 1'}, outputs: {a: integer}}\n"
        "  - {id: second, type: expression, values: {b: '2'}, outputs: {b: integer}}\n"
    )
    with pytest.raises(
        WorkflowError,
        match=r"node 'first' field 'values.a': reads column 'b', "
        r"which node 'second' writes after it",
    ):
        compile_one(tmp_path / "back", "backwards", text)


REQUIRED = """\
name: required
nodes:
  - id: profile
    type: http
    requires: [name]
    url: "{base}/profile"
    params: {{name: "{{{{ name }}}}"}}
    extract: {{size: "profile.size"}}
    outputs: {{size: integer}}
"""


def test_a_row_missing_a_required_input_is_skipped_with_the_reason_then_redone_when_filled(
    leads, tmp_path: Path, api: CompanyApi
) -> None:
    leads.import_rows("demo", rows([*NAMES[:2], "   ", *NAMES[3:]]))  # row2: blank name
    workflow = compile_one(tmp_path / "req", "required", REQUIRED.format(base=api.root_url))
    run(leads, workflow["required"])
    assert api.count("/profile") == 6
    result = leads.results("demo")["row2"][("required", "profile")]
    assert (result.status, result.error, result.outputs) == (SKIPPED, "missing input: name", None)

    api.reset()
    filled = list(NAMES)
    filled[2] = "Soylent"
    leads.import_rows("demo", rows(filled))
    assert run(leads, workflow["required"]).ok == 1
    assert asked(api) == ["Soylent"]


def test_inputs_are_derived_at_load(workflows) -> None:
    score = workflows["scoring"].nodes[1]
    assert set(score.inputs.columns) == {"_id", "size"}
    profile = workflows["scoring"].nodes[0]
    assert set(profile.inputs.columns) == {"name"}
    assert workflows["ranking"].list_columns == {}


def test_an_input_the_row_lacks_reads_as_null_and_requires_decides(
    leads, tmp_path: Path, api: CompanyApi
) -> None:
    # ``description`` is a canonical field: every list provides it, empty when unmapped.
    text = (
        "name: described\nnodes:\n"
        f'  - id: call\n    type: http\n    url: "{api.root_url}/profile"\n'
        '    params: {name: "{{ name }}:{{ description }}"}\n'
        "    extract: {size: 'profile.size'}\n    outputs: {size: integer}\n"
    )
    workflow = compile_one(tmp_path / "described", "described", text)["described"]
    run(leads, workflow)
    assert "Acme:" in asked(api)


# --------------------------------------------------------------------------- the response cache

CACHED = """\
name: cached
nodes:
  - id: profile
    type: http
    cache: true
    url: "{base}/profile"
    params: {{name: "{{{{ name }}}}"}}
    extract: {{size: "profile.size"}}
    outputs: {{size: integer}}
"""


def test_force_answers_from_the_cache_and_refresh_asks_again(
    leads, tmp_path: Path, api: CompanyApi
) -> None:
    workflow = compile_one(tmp_path / "c", "cached", CACHED.format(base=api.root_url))["cached"]
    run(leads, workflow)
    assert api.count("/profile") == 7
    api.reset()
    assert run(leads, workflow, force=True).ok == 7
    assert api.count("/profile") == 0  # --force re-runs rows; equal questions cost nothing
    assert run(leads, workflow, force=True, refresh=True).ok == 7
    assert api.count("/profile") == 7  # --refresh asks the provider again
    api.reset()
    changed = list(NAMES)
    changed[0] = "Acme Two"
    leads.import_rows("demo", rows(changed))
    run(leads, workflow, refresh=True)
    assert asked(api) == ["Acme Two"]  # --refresh alone: only the rows this run processes


def test_cached_answers_expire_and_are_pruned(store: LeadStore) -> None:
    from lead_pipeline.providers.cache import CacheLifetimes, CacheView

    store.cache_put("a", "serper", {"format": 1, "data": 1})
    store.cache_put("b", "openai", {"format": 1, "data": 2})
    lifetimes = CacheLifetimes.from_setting({"serper": timedelta(days=7)})
    later = utcnow() + timedelta(days=8)
    view = CacheView(store, lifetimes, clock=lambda: later)
    assert view.cache_get("a") is None  # serper's week is over
    assert view.cache_get("b") == {"format": 1, "data": 2}  # the 30-day default holds
    assert CacheView(store, lifetimes, refresh=True).cache_get("b") is None
    assert store.prune_cache(lifetimes.default, lifetimes.providers, now=later) == 1
    assert store.cache_entry("a") is None and store.cache_entry("b") is not None
    assert (
        store.prune_cache(lifetimes.default, lifetimes.providers, now=later + timedelta(days=30))
        == 1
    )


def test_cache_lifetimes_come_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from lead_pipeline.settings import SettingsError, load_settings

    monkeypatch.setenv("LEAD_PIPELINE_CACHE_TTL", '{"default": "2w", "serper": 3}')
    assert load_settings().cache_ttl == {"default": timedelta(weeks=2), "serper": timedelta(days=3)}
    monkeypatch.setenv("LEAD_PIPELINE_CACHE_TTL", '{"serper": "soon"}')
    with pytest.raises(SettingsError, match="LEAD_PIPELINE_CACHE_TTL"):
        load_settings()
