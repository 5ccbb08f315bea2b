"""Exports of the wide view: formula neutralisation and round trips."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from lead_pipeline.leads import export_list, import_file
from lead_pipeline.leads.exporter import csv_cell, default_export_path, neutralise
from lead_pipeline.store import OK, LeadStore, NodeResult, UnknownLeadListError

DANGEROUS = ["=1+2", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "\rx"]


@pytest.mark.parametrize("text", DANGEROUS)
def test_neutralise_prefixes_formula_starts(text: str) -> None:
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize("text", ["Acme", "", "a=b", " =1", "'quoted", "1-2"])
def test_neutralise_leaves_plain_text(text: str) -> None:
    assert neutralise(text) == text


def test_csv_cells_of_each_type() -> None:
    assert [csv_cell(v) for v in (None, True, False, -5, 2.5, ["=x"], {"a": 1})] == [
        "",
        "true",
        "false",
        "-5",  # a real number is no formula
        "2.5",
        '["=x"]',
        '{"a": 1}',
    ]
    assert csv_cell("-5") == "'-5"  # text that looks like a number is still text


def _seed(store: LeadStore, tmp_path: Path) -> None:
    leads = [
        {"name": '=HYPERLINK("http://evil","x")', "website": "a.com", "size": 3},
        {"name": "@Mention", "website": "b.com", "size": None, "tags": ["=1", "b"]},
        {"name": "Plain", "website": "c.com", "size": -4, "note": "+49 30 1234"},
    ]
    path = tmp_path / "in.json"
    path.write_text(json.dumps(leads))
    import_file(store, path, "exp")
    store.record_result(
        NodeResult(
            lead_list="exp",
            row_id="c.com",
            workflow="b2b",
            node="rule",
            node_index=0,
            status=OK,
            config_hash="h" * 64,
            outputs={"is_b2b": True, "reason": "-sells to businesses"},
        )
    )


def test_csv_export_neutralises_formulas(store: LeadStore, tmp_path: Path) -> None:
    _seed(store, tmp_path)
    out = export_list(store, "exp", "csv", tmp_path / "out.csv")
    with out.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["_id", "name", "website", "size", "tags", "note", "is_b2b", "reason"]
    assert rows[0]["name"] == '\'=HYPERLINK("http://evil","x")'
    assert rows[1]["name"] == "'@Mention" and rows[1]["tags"] == '["=1", "b"]'
    assert rows[2]["size"] == "-4" and rows[2]["note"] == "'+49 30 1234"
    assert rows[2]["reason"] == "'-sells to businesses" and rows[2]["is_b2b"] == "true"
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "@", "\t", "\r")), value
            assert not value.startswith("-") or value.lstrip("-").isdigit()


def test_jsonl_and_parquet_keep_values_as_they_are(store: LeadStore, tmp_path: Path) -> None:
    _seed(store, tmp_path)
    frame = store.wide_frame("exp")
    expected = frame.to_dict("records")
    jsonl = export_list(store, "exp", "jsonl", tmp_path / "out.jsonl")
    lines = jsonl.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == expected
    parquet = export_list(store, "exp", "parquet", tmp_path / "out.parquet")
    assert pq.read_table(parquet).to_pylist() == expected


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_export_then_reimport_changes_nothing(store: LeadStore, tmp_path: Path, fmt: str) -> None:
    _seed(store, tmp_path)
    rows = [(r.row_id, r.fields) for r in store.rows("exp")]
    frame = store.wide_frame("exp").to_dict("records")
    out = export_list(store, "exp", fmt)
    assert out == default_export_path("exp", fmt)
    report = import_file(store, out, "exp")
    assert (report.added, report.updated, report.unchanged) == (0, 0, 3)
    # Numbers stay numbers (even through CSV), no output became an imported field.
    assert [(r.row_id, r.fields) for r in store.rows("exp")] == rows
    assert store.wide_frame("exp").to_dict("records") == frame
    assert report.notes and "left out 2 column(s)" in report.notes[0]


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_an_export_imported_as_a_new_list_brings_lead_data_not_results(
    store: LeadStore, tmp_path: Path, fmt: str
) -> None:
    # Changed on purpose: an export used to turn its outputs into the copy's imported
    # fields, where they would hide the copy's own results.
    _seed(store, tmp_path)
    out = export_list(store, "exp", fmt)
    report = import_file(store, out, "copy")
    assert report.added == 3
    assert [r.row_id for r in store.rows("copy")] == [r.row_id for r in store.rows("exp")]
    copied = {r.row_id: r.fields for r in store.rows("copy")}
    assert all("is_b2b" not in fields for fields in copied.values())  # b2b_only's output
    if fmt != "csv":  # CSV turns every value into text; the typed formats keep them
        originals = {r.row_id: r.fields for r in store.rows("exp")}
        for row_id, fields in originals.items():
            assert {k: v for k, v in copied[row_id].items() if k in fields} == fields


def test_failed_export_leaves_existing_file_alone(store: LeadStore, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "x.csv").write_text("old")
    with pytest.raises(UnknownLeadListError):
        export_list(store, "nope", "csv", out / "x.csv")
    assert [p.name for p in out.iterdir()] == ["x.csv"]
    assert (out / "x.csv").read_text() == "old"
