"""Exports that show what the pipeline decided: collisions, round trips, founders, Excel."""

from __future__ import annotations

import codecs
import csv
import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from lead_pipeline.leads import ExportError, ExportOptions, export_lead_list, import_file
from lead_pipeline.store import OK, LeadStore, NodeResult

FOUNDERS = [
    {"name": "Ada Byron", "title": "CEO", "linkedin_url": "https://www.linkedin.com/in/ada"},
    {"name": "Alan T", "title": "CTO", "linkedin_url": "https://www.linkedin.com/in/alan"},
    {"name": "Grace H", "title": "COO", "linkedin_url": None},
]


def result(row_id: str, workflow: str, node: str, index: int, **outputs: Any) -> NodeResult:
    return NodeResult(
        lead_list="crm",
        row_id=row_id,
        workflow=workflow,
        node=node,
        node_index=index,
        status=OK,
        config_hash="h" * 64,
        outputs=outputs,
    )


def seed(store: LeadStore, tmp_path: Path) -> None:
    """A CRM file that already has an ``is_b2b`` column, then the pipeline's own answers."""
    path = tmp_path / "crm.csv"
    path.write_text(
        "Company Name,Website URL,Description,Employees,is_b2b\n"
        "Acme Bank Software,acme.example,Software for banks,120,no\n"
        "Teen Date,teendate.example,Dating for teens,8,\n",
        encoding="utf-8",
    )
    report = import_file(store, path, "crm")
    assert any("is_b2b -> imported_is_b2b" in note for note in report.notes)
    store.record_results(
        [
            result("acme.example", "b2b_only", "offline_model", 0, is_b2b=True,
                   b2b_confidence=0.9, b2b_reason="sells to banks"),
            result("teendate.example", "b2b_only", "offline_model", 0, is_b2b=False,
                   b2b_confidence=0.8, b2b_reason="consumers"),
            result("acme.example", "founder_linkedin", "search", 0,
                   founder_search_results=[{"title": "x", "url": "https://a", "snippet": "s"}]),
            result("acme.example", "founder_linkedin", "extract", 1, founders=FOUNDERS,
                   founder_count=3),
        ]
    )  # fmt: skip


def test_an_imported_column_never_hides_an_output(store: LeadStore, tmp_path: Path) -> None:
    seed(store, tmp_path)
    assert store.rows("crm")[0].fields["imported_is_b2b"] == "no"
    assert store.row_values("crm")["acme.example"]["is_b2b"] is True
    frame = store.wide_frame("crm").set_index("_id")
    assert frame.loc["acme.example", "is_b2b"] is True
    assert frame.loc["acme.example", "imported_is_b2b"] == "no"


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
@pytest.mark.parametrize("flatten", [False, True], ids=["cells", "flattened"])
def test_export_then_reimport_changes_nothing(
    store: LeadStore, tmp_path: Path, fmt: str, flatten: bool
) -> None:
    seed(store, tmp_path)
    rows = [(r.row_id, r.fields) for r in store.rows("crm")]
    values = store.row_values("crm")
    result = export_lead_list(
        store, "crm", fmt, tmp_path / f"out.{fmt}", ExportOptions(flatten=flatten)
    )
    report = import_file(store, result.path, "crm")
    assert (report.added, report.updated, report.unchanged) == (0, 0, 2)
    assert [(r.row_id, r.fields) for r in store.rows("crm")] == rows
    assert store.rows("crm")[0].fields["Employees"] == "120"  # as imported, still the same
    assert store.row_values("crm") == values
    assert store.list_info("crm").field_map == report.field_map  # type: ignore[union-attr]


def test_numbers_stay_numbers_through_a_csv_round_trip(store: LeadStore, tmp_path: Path) -> None:
    path = tmp_path / "typed.json"
    path.write_text(json.dumps([{"name": "A", "website": "a.com", "n": 3, "x": 2.5, "ok": True,
                                 "tags": ["=1"], "f": "=SUM(A1)", "empty": ""}]))  # fmt: skip
    import_file(store, path, "typed")
    before = store.rows("typed")[0].fields
    out = export_lead_list(store, "typed", "csv", tmp_path / "typed.csv").path
    report = import_file(store, out, "typed")
    assert report.updated == 0 and store.rows("typed")[0].fields == before


def test_preview_false_outputs_stay_out_unless_asked(store: LeadStore, tmp_path: Path) -> None:
    seed(store, tmp_path)
    result = export_lead_list(store, "crm", "jsonl", tmp_path / "a.jsonl")
    first = json.loads(result.path.read_text().splitlines()[0])
    assert "founder_search_results" not in first and first["founder_count"] == 3
    assert "founder_search_results" in result.notes[0]
    every = export_lead_list(
        store, "crm", "jsonl", tmp_path / "b.jsonl", ExportOptions(all_outputs=True)
    )
    assert json.loads(every.path.read_text().splitlines()[0])["founder_search_results"]


def test_founders_flatten_up_to_a_cap(store: LeadStore, tmp_path: Path) -> None:
    seed(store, tmp_path)
    options = ExportOptions(flatten=True, flatten_max=2)
    result = export_lead_list(store, "crm", "csv", tmp_path / "flat.csv", options)
    with result.path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert "founders" not in rows[0] and "founder_3_name" not in rows[0]
    assert rows[0]["founder_1_name"] == "Ada Byron" and rows[0]["founder_2_title"] == "CTO"
    assert rows[0]["founder_1_linkedin_url"] == "https://www.linkedin.com/in/ada"
    assert rows[1]["founder_1_name"] == ""
    assert "1 row(s) have more than 2 founders" in result.notes[-1]


def test_explode_writes_one_row_per_founder(store: LeadStore, tmp_path: Path) -> None:
    seed(store, tmp_path)
    options = ExportOptions(explode="founders")
    result = export_lead_list(store, "crm", "csv", tmp_path / "people.csv", options)
    with result.path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert result.rows == 3
    assert list(rows[0]) == ["company_id", "company_name", "company_website", "name", "title",
                             "linkedin_url"]  # fmt: skip
    assert rows[2] == {
        "company_id": "acme.example",
        "company_name": "Acme Bank Software",  # the canonical name, from "Company Name"
        "company_website": "acme.example",
        "name": "Grace H",
        "title": "COO",
        "linkedin_url": "",
    }
    with pytest.raises(ExportError, match="founders"):
        export_lead_list(store, "crm", "csv", tmp_path / "x.csv", ExportOptions(explode="is_b2b"))


def test_excel_csv_has_a_bom(store: LeadStore, tmp_path: Path) -> None:
    seed(store, tmp_path)
    result = export_lead_list(store, "crm", "csv", tmp_path / "x.csv", ExportOptions(excel=True))
    assert result.path.read_bytes().startswith(codecs.BOM_UTF8)
    plain = export_lead_list(store, "crm", "csv", tmp_path / "y.csv")
    assert not plain.path.read_bytes().startswith(codecs.BOM_UTF8)
    with pytest.raises(ExportError, match="--excel writes CSV"):
        export_lead_list(store, "crm", "jsonl", tmp_path / "z.jsonl", ExportOptions(excel=True))


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_a_lone_surrogate_in_an_output_does_not_block_export(
    store: LeadStore, tmp_path: Path, fmt: str
) -> None:
    seed(store, tmp_path)
    # Only SQLite stores a lone surrogate (an API answered "\ud800"); PostgreSQL refuses it.
    if store.dialect != "sqlite":
        pytest.skip("PostgreSQL's JSON cannot hold a lone surrogate")
    store.record_result(result("acme.example", "b2b_only", "offline_model", 0, is_b2b=True,
                               b2b_reason="bad \ud800 text", b2b_confidence=0.9))  # fmt: skip
    out = export_lead_list(store, "crm", fmt, tmp_path / f"s.{fmt}").path
    if fmt == "parquet":
        reasons = [r["b2b_reason"] for r in pq.read_table(out).to_pylist()]
    elif fmt == "jsonl":
        reasons = [json.loads(line)["b2b_reason"] for line in out.read_text().splitlines()]
    else:
        with out.open(encoding="utf-8", newline="") as handle:
            reasons = [r["b2b_reason"] for r in csv.DictReader(handle)]
    assert reasons[0] == "bad \ufffd text"
