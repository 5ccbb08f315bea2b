"""Reading each format, and knowing where every record came from."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lead_pipeline.leads import LeadFileError, read_records


def test_csv_locations_follow_multiline_cells_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.write_text(
        'name,website,notes\nA,a.com,"two\nlines"\n\nB,b.com,\n', encoding="utf-8", newline=""
    )
    records = read_records(path)
    assert [r.location for r in records] == ["line 2", "line 5"]
    assert records[0].fields == {"name": "A", "website": "a.com", "notes": "two\nlines"}
    assert records[1].fields["notes"] is None  # an empty cell is no value


def test_csv_with_bom_crlf_and_padded_header(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf name , website\r\nAcme,acme.com\r\n")
    [record] = read_records(path)
    assert record.fields == {"name": "Acme", "website": "acme.com"}


def test_tsv_in_utf16_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "leads.tsv"
    path.write_bytes("name\twebsite\nZürich AG\tzh.ch\n".encode("utf-16"))
    [record] = read_records(path)
    assert record.fields == {"name": "Zürich AG", "website": "zh.ch"}


def test_json_records_know_their_line(tmp_path: Path) -> None:
    path = tmp_path / "leads.json"
    path.write_text('[\n  {"name": "A",\n   "tags": ["x", {"y": 1}]},\n  {"name": "B"}\n]\n')
    records = read_records(path)
    assert [r.location for r in records] == ["record 1 (line 2)", "record 2 (line 4)"]
    assert records[0].fields == {"name": "A", "tags": ["x", {"y": 1}]}


def test_jsonl_skips_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "leads.jsonl"
    path.write_text('{"name": "A"}\n\n{"name": "B", "n": 2.5}\n')
    records = read_records(path)
    assert [(r.location, r.fields) for r in records] == [
        ("line 1", {"name": "A"}),
        ("line 3", {"name": "B", "n": 2.5}),
    ]


def test_parquet_values_become_json_values(tmp_path: Path) -> None:
    path = tmp_path / "leads.parquet"
    table = pa.table(
        {
            "name": ["A", "B"],
            "founded": [dt.date(2020, 1, 2), None],
            "seen": [dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC), None],
            "score": [1.5, math.nan],
            "price": pa.array([Decimal("10.00"), Decimal("2.50")], pa.decimal128(6, 2)),
            "tags": [["x"], []],
            "meta": [{"k": 1}, None],
        }
    )
    pq.write_table(table, path)
    records = read_records(path)
    assert [r.location for r in records] == ["record 1", "record 2"]
    assert records[0].fields == {
        "name": "A",
        "founded": "2020-01-02",
        "seen": "2026-01-01T12:00:00+00:00",
        "score": 1.5,
        "price": 10,
        "tags": ["x"],
        "meta": {"k": 1},
    }
    assert records[1].fields["score"] is None and records[1].fields["price"] == 2.5


def test_format_from_extension_or_argument(tmp_path: Path) -> None:
    path = tmp_path / "leads.txt"
    path.write_text('{"name": "A"}\n')
    with pytest.raises(LeadFileError, match="cannot tell the format"):
        read_records(path)
    assert read_records(path, "jsonl")[0].fields == {"name": "A"}
    with pytest.raises(LeadFileError, match="unknown format 'xml'"):
        read_records(path, "xml")
