"""The Big List of Naughty Strings through import and every export format.

The list (``lead_pipeline_tests/corpora/blns.json``, see the README there) holds
raw U+2028, U+2029 and U+0085, which ``str.splitlines()`` takes for line breaks:
a JSONL reader splitting that way refused valid files, and our own JSONL export
of such text could not be imported again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lead_pipeline.leads import ExportOptions, export_lead_list, import_file
from lead_pipeline.leads.readers import read_records
from lead_pipeline.store import OK, LeadStore, NodeResult

CORPORA = Path(__file__).resolve().parents[1] / "corpora"
NAUGHTY: list[str] = json.loads((CORPORA / "blns.json").read_text(encoding="utf-8"))
LINE_BREAKS_TO_SPLITLINES = ("\u2028", "\u2029", "\x85")


def naughty_jsonl(path: Path) -> Path:
    """One lead per naughty string, written with raw characters (no ``\\u`` escapes)."""
    lines = [
        json.dumps({"lead_id": f"s{i:03d}", "name": text, "note": text}, ensure_ascii=False)
        for i, text in enumerate(NAUGHTY)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    raw = path.read_text(encoding="utf-8")
    assert all(char in raw for char in LINE_BREAKS_TO_SPLITLINES)  # the test means it
    return path


def test_the_corpus_holds_what_broke_the_reader() -> None:
    assert len(NAUGHTY) == 515
    assert any("\u2028" in text and "\x85" in text for text in NAUGHTY)


def test_jsonl_with_raw_naughty_strings_reads_every_line(tmp_path: Path) -> None:
    records = read_records(naughty_jsonl(tmp_path / "naughty.jsonl"))
    assert [r.fields["note"] for r in records] == NAUGHTY
    assert [r.location for r in records] == [f"line {n}" for n in range(1, len(NAUGHTY) + 1)]


def test_a_jsonl_line_break_is_a_newline_only(tmp_path: Path) -> None:
    # CRLF lines still read; a U+2028 between two objects is no line break.
    path = tmp_path / "crlf.jsonl"
    path.write_bytes(b'{"name": "A\xe2\x80\xa8B"}\r\n\r\n{"name": "C"}\r\n')
    assert [r.fields["name"] for r in read_records(path)] == ["A\u2028B", "C"]
    path.write_text('{"name": "A"}\u2028{"name": "B"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"line 1, column 14: malformed JSON: Extra data"):
        read_records(path)


def _results(store: LeadStore) -> None:
    """A workflow's answers holding the same strings, so outputs cross every format too."""
    store.record_results(
        [
            NodeResult(
                lead_list="naughty", row_id=f"s{i:03d}", workflow="b2b_only",
                node="offline_model", node_index=0, status=OK, config_hash="h" * 64,
                outputs={"is_b2b": i % 2 == 0, "b2b_confidence": 0.5, "b2b_reason": text},
            )
            for i, text in enumerate(NAUGHTY)
        ]
    )  # fmt: skip


FORMATS = [
    pytest.param("csv", ExportOptions(), id="csv"),
    pytest.param("csv", ExportOptions(excel=True), id="csv-excel"),
    pytest.param("jsonl", ExportOptions(), id="jsonl"),
    pytest.param("parquet", ExportOptions(), id="parquet"),
]


@pytest.mark.parametrize(("fmt", "options"), FORMATS)
def test_naughty_strings_survive_export_then_import_in_every_format(
    store: LeadStore, tmp_path: Path, fmt: str, options: ExportOptions
) -> None:
    report = import_file(store, naughty_jsonl(tmp_path / "naughty.jsonl"), "naughty",
                         id_column="lead_id")  # fmt: skip
    assert report.added == len(NAUGHTY)
    rows: list[tuple[str, dict[str, Any]]] = [(r.row_id, r.fields) for r in store.rows("naughty")]
    assert [fields["note"] for _, fields in rows] == NAUGHTY
    _results(store)
    values = store.row_values("naughty")
    frame = store.wide_frame("naughty").to_dict("records")
    out = export_lead_list(store, "naughty", fmt, tmp_path / f"out.{fmt}", options).path
    again = import_file(store, out, "naughty")
    assert (again.added, again.updated, again.unchanged) == (0, 0, len(NAUGHTY))
    assert [(r.row_id, r.fields) for r in store.rows("naughty")] == rows
    assert store.row_values("naughty") == values
    assert store.wide_frame("naughty").to_dict("records") == frame
