"""The lead store's reads and writes, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import IntegrityError

from lead_pipeline.store import (
    FAILED,
    ID_COLUMN,
    OK,
    SKIPPED,
    InvalidNameError,
    LeadStore,
    NodeResult,
    UnknownLeadListError,
)


def result(row_id: str, node: str, status: str = OK, **kw: object) -> NodeResult:
    values: dict[str, object] = {
        "lead_list": "acme",
        "row_id": row_id,
        "workflow": "wf",
        "node": node,
        "node_index": 0,
        "status": status,
        "config_hash": "h" * 64,
    }
    values.update(kw)
    return NodeResult(**values)  # type: ignore[arg-type]


ROWS = [
    ("a.com", {"name": "A", "website": "a.com", "size": 3}),
    ("b.com", {"name": "B", "website": "b.com", "size": None}),
    ("c.com", {"name": "C", "website": "c.com", "tags": ["x", "y"], "meta": {"k": 1}}),
]


def test_import_then_read_keeps_order_and_values(store: LeadStore) -> None:
    report = store.import_rows("acme", ROWS, source="file.json")
    assert (report.added, report.updated, report.unchanged, report.pruned) == (3, 0, 0, 0)
    rows = store.rows("acme")
    assert [(r.row_id, r.fields) for r in rows] == ROWS
    assert [r.position for r in rows] == [0, 1, 2]
    assert [r.row_id for r in store.rows("acme", ["c.com", "a.com"])] == ["a.com", "c.com"]
    [info] = store.lists()
    assert (info.name, info.rows, info.source) == ("acme", 3, "file.json")


def test_reimport_is_idempotent_and_updates_changes(store: LeadStore) -> None:
    store.import_rows("acme", ROWS)
    again = store.import_rows("acme", ROWS)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 3)
    changed = [ROWS[0], ("b.com", {**ROWS[1][1], "size": 7}), ("d.com", {"name": "D"})]
    report = store.import_rows("acme", changed)
    assert (report.added, report.updated, report.unchanged, report.pruned) == (1, 1, 1, 0)
    by_id = {r.row_id: r for r in store.rows("acme")}
    assert by_id["b.com"].fields["size"] == 7
    assert set(by_id) == {"a.com", "b.com", "c.com", "d.com"}  # c.com stays without prune
    assert by_id["d.com"].position == 3  # new rows go after the existing ones


def test_prune_removes_absent_rows_and_their_results(store: LeadStore) -> None:
    store.import_rows("acme", ROWS)
    store.record_results([result("a.com", "n1"), result("c.com", "n1")])
    report = store.import_rows("acme", ROWS[:2], prune=True)
    assert report.pruned == 1
    assert [r.row_id for r in store.rows("acme")] == ["a.com", "b.com"]
    assert set(store.results("acme")) == {"a.com"}


def test_results_survive_reimport_and_stay_apart_from_base_fields(store: LeadStore) -> None:
    store.import_rows("acme", ROWS)
    store.record_result(result("a.com", "n1", outputs={"is_b2b": True, "name": "not a base"}))
    store.import_rows("acme", [("a.com", {**ROWS[0][1], "size": 4}), *ROWS[1:]])
    kept = store.results("acme")["a.com"][("wf", "n1")]
    assert kept.outputs == {"is_b2b": True, "name": "not a base"}
    frame = store.wide_frame("acme")
    first = frame.iloc[0].to_dict()
    # Changed on purpose (issue 11): the output keeps its own column, so the wide view
    # shows what the pipeline decided; the imported value stays beside it, prefixed.
    assert first["name"] == "not a base" and first["imported_name"] == "A"
    assert first["size"] == 4 and first["is_b2b"] is True
    assert store.rows("acme")[0].fields["name"] == "A"  # the stored base field is untouched


def test_record_result_counts_attempts_and_replaces_outcome(store: LeadStore) -> None:
    store.import_rows("acme", ROWS)
    started = datetime(2026, 1, 1, tzinfo=UTC)
    store.record_result(result("a.com", "n1", FAILED, error="boom", started_at=started))
    store.record_result(result("a.com", "n1", OK, outputs={"x": 1}, cost=0.25))
    stored = store.results("acme")["a.com"][("wf", "n1")]
    assert (stored.status, stored.outputs, stored.error, stored.attempts) == (OK, {"x": 1}, None, 2)
    assert stored.cost == pytest.approx(0.25)


def test_status_counts_per_workflow(store: LeadStore) -> None:
    store.import_rows("acme", [*ROWS, ("d.com", {"name": "D"})])
    store.record_results(
        [
            result("a.com", "n1", cost=0.5),
            result("a.com", "n2", cost=0.25),
            result("b.com", "n1", FAILED, cost=0.1),
            result("c.com", "n1", SKIPPED),
            result("c.com", "n2", SKIPPED),
            result("d.com", "n1"),  # n2 has not run yet: pending
        ]
    )
    status = store.status("acme", {"wf": ["n1", "n2"], "other": ["m"]})
    assert status.rows == 4
    by_name = {w.workflow: w for w in status.workflows}
    wf = by_name["wf"]
    assert (wf.ok, wf.failed, wf.skipped, wf.pending) == (1, 1, 1, 1)
    assert wf.cost == pytest.approx(0.85)
    other = by_name["other"]
    assert (other.ok, other.failed, other.skipped, other.pending) == (0, 0, 0, 4)


def test_wide_frame_columns_and_types(store: LeadStore) -> None:
    store.import_rows("acme", ROWS)
    store.record_results(
        [
            result("a.com", "rule", outputs={"is_b2b": False}, node_index=0),
            result("a.com", "model", outputs={"is_b2b": True}, node_index=1),
            result("b.com", "rule", FAILED, outputs={"is_b2b": True}, node_index=0),
        ]
    )
    frame = store.wide_frame("acme")
    assert list(frame.columns) == [ID_COLUMN, "name", "website", "size", "tags", "meta", "is_b2b"]
    records = frame.to_dict("records")
    # The later node's ok output refines the earlier one; a failed output never shows.
    assert [r["is_b2b"] for r in records] == [True, None, None]
    # Ints stay ints next to gaps, nested values stay nested.
    assert records[0]["size"] == 3 and type(records[0]["size"]) is int
    assert records[1]["size"] is None
    assert records[2]["tags"] == ["x", "y"] and records[2]["meta"] == {"k": 1}


def test_unknown_and_invalid_list_names(store: LeadStore) -> None:
    with pytest.raises(UnknownLeadListError, match="import it first"):
        store.status("missing")
    for bad in ("../x", "a;drop table", "Upper", "", "-lead", "a" * 65, "a b", "a/b"):
        with pytest.raises(InvalidNameError):
            store.import_rows(bad, ROWS)
    assert store.lists() == []


def test_import_is_all_or_nothing(store: LeadStore) -> None:
    store.import_rows("acme", ROWS)
    # The update of a.com runs before the second new.com breaks the insert: it must roll back.
    bad_rows = [("new.com", {"name": "N"}), ("a.com", {"name": "changed"})]
    bad_rows.append(("new.com", {"name": "twice"}))
    with pytest.raises(IntegrityError):
        store.import_rows("acme", bad_rows, source="other.json")
    assert [(r.row_id, r.fields) for r in store.rows("acme")] == ROWS
    assert [info.source for info in store.lists()] == [None]


def test_runs_and_cache(store: LeadStore) -> None:
    store.import_rows("acme", ROWS)
    run_id = store.start_run("acme", "wf", {"limit": 2}, dagster_run_id="abc")
    store.finish_run(run_id, status="success", ok=2, failed=0, skipped=1, cost=0.5)
    [run] = store.recent_runs("acme")
    assert (run["status"], run["ok"], run["skipped"], run["params"]) == (
        "success",
        2,
        1,
        {"limit": 2},
    )
    assert store.cache_get("k") is None
    store.cache_put("k", "llm", {"answer": 1})
    store.cache_put("k", "llm", {"answer": 2})
    assert store.cache_get("k") == {"answer": 2}


def test_old_step_outputs_are_pruned_and_recent_ones_kept(store: LeadStore) -> None:
    from datetime import UTC, datetime, timedelta

    store.put_step_output("run-1", "select", "shards", b"old")
    cutoff = datetime.now(UTC) + timedelta(seconds=1)
    assert store.prune_step_outputs(cutoff) == 1
    with pytest.raises(KeyError, match="run-1"):
        store.get_step_output("run-1", "select", "shards")
    store.put_step_output("run-2", "select", "shards", b"new")
    assert store.prune_step_outputs(datetime.now(UTC) - timedelta(days=7)) == 0
    assert store.get_step_output("run-2", "select", "shards") == b"new"


def test_a_row_without_results_is_found_by_one_query(store: LeadStore) -> None:
    """What ``enrich`` asks before selecting every row: is some row without any result of
    the workflow? Results of another workflow do not count; a new row does."""
    from datetime import UTC, datetime

    from lead_pipeline.store import OK, NodeResult

    def result(row_id: str, workflow: str) -> NodeResult:
        now = datetime.now(UTC)
        return NodeResult(
            lead_list="demo",
            row_id=row_id,
            workflow=workflow,
            node="n",
            node_index=0,
            status=OK,
            config_hash="h",
            outputs={},
            started_at=now,
            finished_at=now,
        )

    store.import_rows("demo", [("a", {"name": "A"}), ("b", {"name": "B"})])
    assert store.has_row_without_results("demo", "wf")
    store.record_results([result("a", "wf"), result("b", "other")])
    assert store.has_row_without_results("demo", "wf")  # b has only another workflow's
    store.record_results([result("b", "wf")])
    assert not store.has_row_without_results("demo", "wf")
    store.import_rows("demo", [("c", {"name": "C"})])
    assert store.has_row_without_results("demo", "wf")
    assert not store.has_row_without_results("nothing-here", "wf")
