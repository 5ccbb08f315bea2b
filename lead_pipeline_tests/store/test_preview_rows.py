"""The closing preview reads its ten rows, in import order, not the whole list."""

from __future__ import annotations

from lead_pipeline.store import FAILED, OK, LeadStore, NodeResult
from lead_pipeline.store.shared import utcnow


def result(row: str, node: str, index: int, status: str, outputs: dict | None) -> NodeResult:
    now = utcnow()
    return NodeResult(
        lead_list="demo",
        row_id=row,
        workflow="wf",
        node=node,
        node_index=index,
        status=status,
        config_hash="h",
        outputs=outputs,
        started_at=now,
        finished_at=now,
        duration_s=0.0,
    )


def test_the_first_rows_with_a_value_in_import_order_later_nodes_last(store: LeadStore) -> None:
    store.import_rows("demo", [(f"r{i}", {"name": f"Co {i}"}) for i in range(30)])
    results = [result(f"r{i}", "a", 0, OK, {"x": i, "y": None}) for i in range(30)]
    results[0] = result("r0", "a", 0, OK, {"x": None, "y": None})  # no value: left out
    results[1] = result("r1", "a", 0, FAILED, None)  # failed: left out
    results.append(result("r2", "b", 1, OK, {"y": "refined"}))
    results.append(result("r3", "other", 1, OK, {"z": 1}))
    store.record_results(results[::-1])  # written out of order: read in import order

    rows = store.preview_rows("demo", "wf", ["x", "y"], 10)
    assert [r["_id"] for r in rows] == [f"r{i}" for i in range(2, 12)]
    assert rows[0] == {"_id": "r2", "name": "Co 2", "x": 2, "y": "refined"}
    assert "z" in rows[1]  # every ok output of the workflow, not only the shown ones
    assert store.preview_rows("demo", "wf", ["nothing"], 10) == []
    assert len(store.preview_rows("demo", "wf", ["x"], 100)) == 28
