"""The row runner over a real HTTP server: durability, order, re-runs, failures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lead_pipeline.engine.compile import CompiledWorkflow
from lead_pipeline.engine.options import RunOptions
from lead_pipeline.engine.registry import registry
from lead_pipeline.engine.runner import run_shard
from lead_pipeline.engine.selection import make_shards, select_rows
from lead_pipeline.engine.summary import RunSummary
from lead_pipeline.store import FAILED, OK, SKIPPED, LeadStore
from lead_pipeline.workflows.loader import load_workflows
from lead_pipeline_tests.engine.conftest import WORKFLOW, CompanyApi


def materialize(store: LeadStore, workflow: CompiledWorkflow, **options: Any) -> RunSummary:
    """What the Dagster asset does, without Dagster: select, shard, run, merge."""
    opts = RunOptions(**options)
    selection = select_rows(store, workflow, "demo", opts)
    shards = make_shards(selection, opts)
    summary = RunSummary(
        lead_list="demo",
        workflow=workflow.name,
        selected=len(selection.work),
        up_to_date=selection.up_to_date,
        not_eligible=selection.not_eligible,
        held_back=selection.held_back,
    )
    return summary.merge(run_shard(store, workflow, shard, opts) for shard in shards)


def test_every_row_runs_its_nodes_in_order(leads, workflows, api: CompanyApi) -> None:
    summary = materialize(leads, workflows["scoring"], parallel=3)
    assert (summary.ok, summary.failed, summary.not_eligible) == (6, 0, 1)
    frame = leads.wide_frame("demo").set_index("_id")
    assert frame.loc["row0", "size"] == 40
    assert frame.loc["row0", "score"] == 0.4
    assert frame.loc["row2", "score"] is None  # name is null: outside where
    assert api.count("/profile") == 6 and api.count("/score") == 6


def test_a_node_result_is_saved_before_the_next_node_starts(
    leads, workflows, api: CompanyApi
) -> None:
    seen: list[tuple[str, str | None]] = []

    def check(body: dict[str, Any]) -> None:
        found = leads.results("demo", ["scoring"]).get(body["row"], {})
        profile = found.get(("scoring", "profile"))
        seen.append((body["row"], profile.status if profile else None))

    api.on_score = check
    materialize(leads, workflows["scoring"], parallel=4)
    assert len(seen) == 6
    assert all(status == OK for _, status in seen), seen


def test_a_failing_row_is_recorded_and_the_others_finish(leads, workflows, api: CompanyApi) -> None:
    api.fail_names = {"Globex"}
    summary = materialize(leads, workflows["scoring"], parallel=2)
    assert (summary.ok, summary.failed) == (5, 1)
    result = leads.results("demo")["row1"][("scoring", "profile")]
    assert result.status == FAILED
    assert "404" in (result.error or "")
    assert ("scoring", "score") not in leads.results("demo")["row1"]
    assert api.count("/score") == 5


def test_rerun_processes_only_missing_or_failed_rows(leads, workflows, api: CompanyApi) -> None:
    api.fail_names = {"Globex"}
    materialize(leads, workflows["scoring"])
    api.fail_names = set()
    api.reset()
    summary = materialize(leads, workflows["scoring"])
    assert (summary.ok, summary.up_to_date) == (1, 5)
    assert [r.param("name") for r in api.requests if r.path == "/profile"] == ["Globex"]


def test_retry_failed_touches_only_failed_rows(leads, store, workflows, api) -> None:
    api.fail_names = {"Globex"}
    materialize(leads, workflows["scoring"], limit=2)  # row0 ok, row1 failed, rest pending
    api.fail_names = set()
    api.reset()
    summary = materialize(leads, workflows["scoring"], retry_failed=True)
    assert summary.ok == 1
    assert [r.param("name") for r in api.requests if r.path == "/profile"] == ["Globex"]


def test_force_reruns_every_eligible_row(leads, workflows, api: CompanyApi) -> None:
    materialize(leads, workflows["scoring"])
    api.reset()
    summary = materialize(leads, workflows["scoring"], force=True)
    assert summary.ok == 6
    assert api.count("/profile") == 6 and api.count("/score") == 6


def test_limit_processes_the_first_n_rows(leads, workflows, api: CompanyApi) -> None:
    summary = materialize(leads, workflows["scoring"], limit=2)
    assert (summary.ok, summary.held_back) == (2, 4)
    asked = sorted(r.param("name") or "" for r in api.requests if r.path == "/profile")
    assert asked == ["Acme", "Globex"]  # the first two rows, in whatever order they finished
    assert leads.status("demo", {"scoring": ["profile", "score"]}).workflows[0].pending == 4


def _recompile(folder: Path, text: str) -> CompiledWorkflow:
    folder.mkdir(exist_ok=True)
    (folder / "scoring.yaml").write_text(text)
    (workflow,) = load_workflows([folder], builtin_dirs=[], node_types=registry())
    return workflow


def test_changing_a_node_reruns_it_and_later_nodes_only(
    leads, workflows, api: CompanyApi, tmp_path: Path
) -> None:
    original = WORKFLOW.format(base=api.root_url)
    materialize(leads, workflows["scoring"])

    api.reset()
    second_changed = original.replace(
        'extract: {score: "score"}', 'extract: {score: "score"}\n    headers: {x-version: "2"}'
    )
    summary = materialize(leads, _recompile(tmp_path / "v2", second_changed))
    assert summary.ok == 6
    assert api.count("/profile") == 0  # the first node did not change: its results are reused
    assert api.count("/score") == 6

    api.reset()
    first_changed = original.replace(
        'extract: {size: "profile.size"}',
        'extract: {size: "profile.size"}\n    headers: {x-version: "3"}',
    )
    materialize(leads, _recompile(tmp_path / "v3", first_changed))
    assert api.count("/profile") == 6 and api.count("/score") == 6


def test_where_reads_upstream_outputs(leads, workflows, api: CompanyApi) -> None:
    materialize(leads, workflows["scoring"])
    summary = materialize(leads, workflows["ranking"])
    frame = leads.wide_frame("demo").set_index("_id")
    # sizes are 10 x len(name): Acme 0.4, Globex 0.6, Initech 0.7, Umbrella 0.8, Hooli 0.5 ...
    assert summary.ok == 5 and summary.not_eligible == 2
    assert frame.loc["row1", "rank"] == 6.0
    assert frame.loc["row0", "rank"] is None
    skipped = leads.results("demo")["row0"][("ranking", "rank")]
    assert skipped.status == SKIPPED


def test_shards_split_rows_in_proportion_to_slots(leads, workflows) -> None:
    opts = RunOptions(parallel=5, shard_size=2, max_shards=2)
    selection = select_rows(leads, workflows["scoring"], "demo", opts)
    shards = make_shards(selection, opts)
    assert [s.slots for s in shards] == [3, 2]
    assert sum(len(s.rows) for s in shards) == 6
    assert [len(s.rows) for s in shards] == [4, 2]
    ids = [w.row_id for s in shards for w in s.rows]
    assert len(set(ids)) == len(ids)
    # An inline workflow's shards run as many rows at once whatever their slots: equal shares.
    inline = make_shards(selection, opts, inline=True)
    assert [len(s.rows) for s in inline] == [3, 3] and [s.slots for s in inline] == [3, 2]


def test_parallel_bounds_rows_in_flight(leads, workflows, api: CompanyApi) -> None:
    api.latency = 0.2
    materialize(leads, workflows["scoring"], parallel=2)
    assert api.max_in_flight == 2


def test_rows_every_node_skipped_have_no_answer_and_are_not_counted_ok() -> None:
    """``status`` shows such rows as skipped; the run's summary must not call them ok."""
    summary = RunSummary(lead_list="demo", workflow="scoring")
    summary.count_from_store(ok=2, failed=1, skipped=1)
    assert (summary.ok, summary.failed, summary.no_answer, summary.processed) == (2, 1, 1, 4)
    assert summary.failure_rate == 0.25
    assert "2 ok, 1 failed" in summary.line()
    assert "1 with no answer" in summary.line()


INLINE = """\
name: lengths
nodes:
  - id: measure
    type: expression
    values: {name_length: "len(name)"}
    outputs: {name_length: integer}
  - id: double
    type: expression
    values: {double_length: "name_length * 2"}
    outputs: {double_length: integer}
"""


def test_a_workflow_of_inline_nodes_shares_commits_beyond_parallel(
    store: LeadStore, tmp_path: Path
) -> None:
    """``parallel`` bounds rows waiting on providers; rows of expression nodes wait only on
    their commits, so more of them run at once and each commit holds many results. Every
    result is still committed before its row's next node (the second node reads the first's
    output), and every row ends ok."""
    from sqlalchemy import event

    from lead_pipeline.engine.runner import INLINE_ROWS_IN_FLIGHT

    rows = 300
    store.import_rows("demo", [(f"r{i}", {"name": "x" * (i % 17)}) for i in range(rows)])
    commits = []
    event.listen(store.engine, "commit", lambda conn: commits.append(1))
    summary = materialize(store, _recompile(tmp_path, INLINE), parallel=2, max_shards=1)
    assert (summary.ok, summary.failed) == (rows, 0)
    values = store.row_values("demo")
    assert all(v["double_length"] == 2 * (i % 17) for i, v in enumerate(values.values()))
    # Two results per row: 600 results at 2 rows in flight would take 300 or more commits.
    assert INLINE_ROWS_IN_FLIGHT > 2 and len(commits) <= 2 * rows / INLINE_ROWS_IN_FLIGHT + 10
