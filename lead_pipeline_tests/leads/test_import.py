"""Importing files into the store: every format, re-imports, results kept, prune."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lead_pipeline.leads import import_file, load_file
from lead_pipeline.leads.ids import normalise_domain
from lead_pipeline.store import OK, LeadStore, NodeResult


def as_text(value: Any) -> str:
    """How a spreadsheet tool would write a value to a CSV cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def write(records: list[dict[str, Any]], path: Path) -> Path:
    """Write records in the format the file name asks for."""
    fmt = path.suffix.lstrip(".")
    if fmt in ("csv", "tsv"):
        columns = list(records[0])
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, delimiter="\t" if fmt == "tsv" else ",")
            writer.writerow(columns)
            writer.writerows([as_text(r.get(c)) for c in columns] for r in records)
    elif fmt == "json":
        path.write_text(json.dumps(records, indent=2, ensure_ascii=False), encoding="utf-8")
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    elif fmt == "parquet":
        pq.write_table(pa.Table.from_pylist(records), path)
    else:
        raise AssertionError(fmt)
    return path


@pytest.fixture(scope="module")
def companies(yc_f25_path: Path) -> list[dict[str, Any]]:
    return json.loads(yc_f25_path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("fmt", ["csv", "tsv", "json", "jsonl", "parquet"])
def test_every_format_round_trips_the_sample_list(
    store: LeadStore, companies: list[dict[str, Any]], tmp_path: Path, fmt: str
) -> None:
    path = write(companies, tmp_path / f"yc.{fmt}")
    report = import_file(store, path, "yc-f25")
    assert (report.added, report.total) == (148, 148)
    rows = store.rows("yc-f25")
    assert [r.row_id for r in rows] == [normalise_domain(c["website"]) for c in companies]
    if fmt in ("csv", "tsv"):
        expected = [{k: as_text(v) or None for k, v in c.items()} for c in companies]
    else:
        expected = companies  # typed formats keep ints, booleans, lists and nulls
    assert [r.fields for r in rows] == expected
    [info] = store.lists()
    assert info.source == str(path.resolve())


def test_reimport_same_file_changes_nothing(store: LeadStore, tmp_path: Path) -> None:
    path = write([{"name": "A", "website": "a.com"}, {"name": "B"}], tmp_path / "l.csv")
    first = import_file(store, path, "l")
    again = import_file(store, path, "l")
    assert (first.added, again.added, again.updated, again.unchanged) == (2, 0, 0, 2)
    assert [(r.row_id, r.position) for r in store.rows("l")] == [("a.com", 0), ("b", 1)]


def test_reimport_updates_adds_keeps_results_and_absent_rows(
    store: LeadStore, tmp_path: Path
) -> None:
    leads = [
        {"name": "A", "website": "https://a.com", "size": 1},
        {"name": "B", "website": "b.com", "size": 2},
        {"name": "C", "website": "c.com", "size": 3},
    ]
    import_file(store, write(leads, tmp_path / "v1.json"), "l")
    store.record_result(
        NodeResult(
            lead_list="l",
            row_id="a.com",
            workflow="b2b",
            node="rule",
            node_index=0,
            status=OK,
            config_hash="x" * 64,
            outputs={"is_b2b": True},
        )
    )
    # Same companies written differently, one change, one new row, C absent.
    v2 = [
        {"name": "A", "website": "http://www.A.com/", "size": 1},
        {"name": "B", "website": "b.com", "size": 20},
        {"name": "D", "website": "d.com", "size": 4},
    ]
    report = import_file(store, write(v2, tmp_path / "v2.json"), "l")
    assert (report.added, report.updated, report.unchanged, report.pruned) == (1, 2, 0, 0)
    by_id = {r.row_id: r.fields for r in store.rows("l")}
    assert set(by_id) == {"a.com", "b.com", "c.com", "d.com"}
    assert by_id["b.com"]["size"] == 20 and by_id["a.com"]["website"] == "http://www.A.com/"
    assert store.results("l")["a.com"][("b2b", "rule")].outputs == {"is_b2b": True}
    assert store.wide_frame("l").set_index("_id").loc["a.com", "is_b2b"] is True

    pruned = import_file(store, write(v2, tmp_path / "v2.json"), "l", prune=True)
    assert (pruned.pruned, pruned.unchanged) == (1, 3)
    assert [r.row_id for r in store.rows("l")] == ["a.com", "b.com", "d.com"]
    assert ("b2b", "rule") in store.results("l")["a.com"]


def test_id_column_and_nested_values(store: LeadStore, tmp_path: Path) -> None:
    leads = [
        {"crm_id": 101, "name": "Same Name", "people": [{"role": "CEO", "name": "X"}]},
        {"crm_id": 102, "name": "Same Name", "meta": {"nested": {"deep": [1, 2]}}},
    ]
    import_file(store, write(leads, tmp_path / "crm.jsonl"), "crm", id_column="crm_id")
    rows = store.rows("crm")
    assert [(r.row_id, r.fields) for r in rows] == [("101", leads[0]), ("102", leads[1])]


def test_load_file_needs_no_store(tmp_path: Path) -> None:
    path = write([{"Company": "Acme GmbH", "Domain": "ACME.de"}], tmp_path / "l.csv")
    assert load_file(path) == [("acme.de", {"Company": "Acme GmbH", "Domain": "ACME.de"})]
