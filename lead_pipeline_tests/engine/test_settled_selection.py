"""Selection settles unchanged rows in one query, takes rows with no result as work
without reading them, and decides exactly as row by row would.

Each scenario runs the workflows the way the select step does (select, a run
record, the shards), changes something, and compares the selection with the
row-by-row decision (``settles_by_time`` and ``skips_fresh`` switched off), on
SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from lead_pipeline.engine import selection as selection_module
from lead_pipeline.engine.compile import CompiledWorkflow
from lead_pipeline.engine.options import RunOptions
from lead_pipeline.engine.registry import registry
from lead_pipeline.engine.runner import run_shard
from lead_pipeline.engine.selection import (
    Selection,
    load_rows,
    make_shards,
    select_rows,
    settles_by_time,
    stale_counts,
)
from lead_pipeline.store import LeadStore
from lead_pipeline.store.shared import utcnow
from lead_pipeline.workflows.errors import WorkflowError
from lead_pipeline.workflows.loader import load_workflows

WORKFLOWS = {
    "sizes": """\
name: sizes
nodes:
  - {id: double, type: expression, values: {size2: "size * 2"}, outputs: {size2: integer}}
  - {id: plus, type: expression, values: {size3: "size2 + 1"}, outputs: {size3: integer}}
""",
    "big": """\
name: big
needs: [sizes]
where: "size2 > 4"
nodes:
  - {id: mark, type: expression, values: {big_name: "upper(name)"}, outputs: {big_name: string}}
""",
    "aging": """\
name: aging
nodes:
  - id: stamp
    type: expression
    max_age: 1d
    values: {stamped: "name"}
    outputs: {stamped: string}
""",
    "gated": """\
name: gated
params: {label: {type: string, default: "v1"}}
nodes:
  - {id: tag, type: expression, values: {tag: "params.label"}, outputs: {tag: string}}
""",
}


@pytest.fixture
def workflows(tmp_path: Path) -> dict[str, CompiledWorkflow]:
    for name, text in WORKFLOWS.items():
        (tmp_path / f"{name}.yaml").write_text(text)
    return {w.name: w for w in load_workflows([tmp_path], builtin_dirs=[], node_types=registry())}


@pytest.fixture
def listed(store: LeadStore) -> Iterator[LeadStore]:
    store.import_rows("demo", [(f"r{i}", {"name": f"Co {i}", "size": i}) for i in range(6)])
    yield store


def run(store: LeadStore, workflow: CompiledWorkflow, **options: Any) -> Selection:
    """As the select step and the shards do it: select, open a run record, run."""
    opts = RunOptions(**options)
    chosen = select_rows(store, workflow, "demo", opts)
    store.start_run("demo", workflow.name, opts.as_dict())
    for shard in make_shards(chosen, opts):
        run_shard(store, workflow, shard, opts)
    return chosen


def decide(store: LeadStore, workflow: CompiledWorkflow, **options: Any) -> tuple[Any, ...]:
    chosen = select_rows(store, workflow, "demo", RunOptions(**options), record=False)
    return (
        sorted((w.row_id, w.start) for w in chosen.work),
        chosen.up_to_date,
        chosen.not_eligible,
        chosen.left_alone,
        chosen.total_rows,
    )


def same_as_row_by_row(
    store: LeadStore, workflow: CompiledWorkflow, monkeypatch: pytest.MonkeyPatch, **options: Any
) -> tuple[Any, ...]:
    settled = decide(store, workflow, **options)
    with monkeypatch.context() as patch:
        patch.setattr(selection_module, "settles_by_time", lambda _: False)
        patch.setattr(selection_module, "skips_fresh", lambda _: False)
        assert decide(store, workflow, **options) == settled
    return settled


def settled_ids(store: LeadStore, workflow: CompiledWorkflow) -> set[str]:
    return set(load_rows(store, workflow, "demo", now=utcnow()).settled)


def test_a_finished_list_is_settled_whole_and_up_to_date(listed, workflows, monkeypatch) -> None:
    run(listed, workflows["sizes"])
    run(listed, workflows["big"])
    assert settled_ids(listed, workflows["sizes"]) == {f"r{i}" for i in range(6)}
    assert same_as_row_by_row(listed, workflows["sizes"], monkeypatch) == ([], 6, 0, 0, 6)
    # big's where (size2 > 4) leaves r0..r2 outside: settled as outside, not up to date.
    assert same_as_row_by_row(listed, workflows["big"], monkeypatch) == ([], 3, 3, 0, 6)
    assert stale_counts(listed, workflows["sizes"], "demo") == {}


def test_a_changed_row_and_what_reads_it_downstream_are_decided_again(
    listed, workflows, monkeypatch
) -> None:
    run(listed, workflows["sizes"])
    run(listed, workflows["big"])
    listed.import_rows(
        "demo", [("r1", {"name": "Co 1", "size": 7}), ("r5", {"name": "Co 5", "size": 5, "x": 1})]
    )
    assert settled_ids(listed, workflows["sizes"]) == {"r0", "r2", "r3", "r4"}
    # r5 changed a column no node reads: decided row by row, and up to date.
    assert same_as_row_by_row(listed, workflows["sizes"], monkeypatch) == ([("r1", 0)], 5, 0, 0, 6)
    run(listed, workflows["sizes"])
    # sizes wrote r1 again after big's run began: big decides r1 row by row, and runs it.
    assert "r1" not in settled_ids(listed, workflows["big"])
    assert same_as_row_by_row(listed, workflows["big"], monkeypatch) == ([("r1", 0)], 3, 2, 0, 6)


def test_a_new_field_mapping_unsettles_every_row(listed, workflows, monkeypatch) -> None:
    run(listed, workflows["sizes"])
    rows = [(f"r{i}", {"name": f"Co {i}", "size": i, "label": f"L{i}"}) for i in range(6)]
    mapping = {"fields": ["name"], "columns": {"name": "label"}}
    listed.import_rows("demo", rows, field_map=mapping)
    assert settled_ids(listed, workflows["sizes"]) == set()
    # sizes reads only size, which the mapping left alone: still up to date, row by row.
    assert same_as_row_by_row(listed, workflows["sizes"], monkeypatch) == ([], 6, 0, 0, 6)
    # Results written after the new mapping settle again; the same mapping changes nothing.
    run(listed, workflows["sizes"], force=True)
    assert len(settled_ids(listed, workflows["sizes"])) == 6
    listed.import_rows("demo", rows, field_map=mapping)
    assert len(settled_ids(listed, workflows["sizes"])) == 6


def test_failed_aged_forced_and_retried_rows_are_never_settled_away(
    listed, workflows, monkeypatch
) -> None:
    run(listed, workflows["aging"])
    assert len(settled_ids(listed, workflows["aging"])) == 6
    later = utcnow() + timedelta(days=2)
    assert load_rows(listed, workflows["aging"], "demo", now=later).settled == {}
    forced = same_as_row_by_row(listed, workflows["aging"], monkeypatch, force=True)
    assert len(forced[0]) == 6
    retried = same_as_row_by_row(listed, workflows["aging"], monkeypatch, retry_failed=True)
    assert retried == ([], 0, 0, 6, 6)  # nothing failed: every row is left alone


def test_results_without_a_run_record_and_parameter_readers_are_decided_row_by_row(
    listed, workflows, monkeypatch
) -> None:
    opts = RunOptions()
    for shard in make_shards(select_rows(listed, workflows["sizes"], "demo", opts), opts):
        run_shard(listed, workflows["sizes"], shard, opts)  # no run record: when did it read?
    assert settled_ids(listed, workflows["sizes"]) == set()
    assert not settles_by_time(workflows["gated"])
    run(listed, workflows["gated"])
    assert settled_ids(listed, workflows["gated"]) == set()
    changed = same_as_row_by_row(listed, workflows["gated"], monkeypatch, params={"label": "v2"})
    assert len(changed[0]) == 6


def test_rows_without_results_are_work_unread_and_in_import_order(
    listed, workflows, monkeypatch
) -> None:
    # A first run: every row fresh, none read.
    assert same_as_row_by_row(listed, workflows["sizes"], monkeypatch) == (
        [(f"r{i}", 0) for i in range(6)],
        0,
        0,
        0,
        6,
    )
    states = load_rows(listed, workflows["sizes"], "demo", now=utcnow())
    assert states.rows == [] and len(states.fresh) == 6
    run(listed, workflows["sizes"], rows=["r1", "r4"])
    # New rows between settled ones, and a changed row among them: the fresh rows are
    # unread, the changed one is decided row by row, the work keeps the list's order.
    listed.import_rows("demo", [("r4", {"name": "Co 4", "size": 40})])
    listed.import_rows("demo", [("r6", {"name": "Co 6", "size": 6})])
    states = load_rows(listed, workflows["sizes"], "demo", now=utcnow())
    assert [r.row_id for r in states.rows] == ["r4"]
    assert states.fresh == {"r0", "r2", "r3", "r5", "r6"} and set(states.settled) == {"r1"}
    chosen = select_rows(listed, workflows["sizes"], "demo", RunOptions(), record=False)
    assert [w.row_id for w in chosen.work] == ["r0", "r2", "r3", "r4", "r5", "r6"]
    for options in ({}, {"limit": 2}, {"retry_failed": True}, {"rows": ["r3", "r1"]}):
        same_as_row_by_row(listed, workflows["sizes"], monkeypatch, **options)
    assert same_as_row_by_row(listed, workflows["sizes"], monkeypatch, limit=2)[0] == [
        ("r0", 0),
        ("r2", 0),
    ]
    # A parameter reader cannot be settled, but its fresh rows still need no reading.
    assert not settles_by_time(workflows["gated"])
    assert len(load_rows(listed, workflows["gated"], "demo", now=utcnow()).fresh) == 7
    same_as_row_by_row(listed, workflows["gated"], monkeypatch)
    # A workflow with a ``where`` reads its fresh rows: the filter decides them.
    assert load_rows(listed, workflows["big"], "demo", now=utcnow()).fresh == set()
    assert stale_counts(listed, workflows["sizes"], "demo") == {"new": 5, "inputs": 1}


def test_a_column_only_unread_rows_carry_is_found_and_one_none_carries_refused(
    store: LeadStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "reads.yaml").write_text(
        'name: reads\nnodes:\n  - {id: n, type: expression, values: {v: "upper(extra)"}, '
        "outputs: {v: string}}\n"
    )
    (tmp_path / "typo.yaml").write_text(
        'name: typo\nnodes:\n  - {id: n, type: expression, values: {w: "upper(extar)"}, '
        "outputs: {w: string}}\n"
    )
    flows = {w.name: w for w in load_workflows([tmp_path], builtin_dirs=[], node_types=registry())}
    # Only the last row carries ``extra``: the first row alone does not prove it exists.
    rows = [(f"r{i}", {"name": f"Co {i}"}) for i in range(5)]
    store.import_rows("demo", [*rows, ("r5", {"name": "Co 5", "extra": "x"})])
    assert len(decide(store, flows["reads"])[0]) == 6
    with pytest.raises(WorkflowError, match="extar"):
        select_rows(store, flows["typo"], "demo", RunOptions(), record=False)


def test_each_row_is_settled_by_the_run_of_w_that_wrote_it_among_many(
    listed, workflows, monkeypatch
) -> None:
    """Many runs of the workflow, on this list and another: each row finds the run that
    wrote its results (its interval between two starts), not the first or the last."""
    listed.import_rows("other", [("o1", {"name": "Other", "size": 1})])
    run(listed, workflows["sizes"])  # every row, run 1
    for round_ in range(4):
        other = select_rows(listed, workflows["sizes"], "other", RunOptions(force=True))
        listed.start_run("other", "sizes", RunOptions().as_dict())
        for shard in make_shards(other, RunOptions()):
            run_shard(listed, workflows["sizes"], shard, RunOptions())
        run(listed, workflows["sizes"], force=True, rows=["r1"])
        if round_ == 1:
            listed.import_rows("demo", [("r3", {"name": "Co 3", "size": 30})])
    # r3 changed after run 1 wrote it (and no later run of sizes wrote r3): decided again.
    assert settled_ids(listed, workflows["sizes"]) == {"r0", "r1", "r2", "r4", "r5"}
    assert same_as_row_by_row(listed, workflows["sizes"], monkeypatch) == ([("r3", 0)], 5, 0, 0, 6)
