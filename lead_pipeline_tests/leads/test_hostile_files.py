"""Hostile lead files: each refused with one error naming the file, the line and the field."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lead_pipeline.leads import LeadFileError, import_file
from lead_pipeline.leads.readers import MAX_NESTING
from lead_pipeline.store import LeadStore

DEEP = 10_000


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


# (file name, content, location, field, words the message must hold)
CASES: list[tuple[str, str, str, str | None, str]] = [
    (
        "deep.json",
        '[{"name": "A"},\n {"name": "B", "tags": ' + deep(DEEP) + "}]",
        "record 2 (line 2), nesting from line 2",
        "tags",
        f"deeper than {MAX_NESTING} levels",
    ),
    (
        "deep.jsonl",
        '{"name": "A"}\n{"name": "B", "meta": {"x": ' + deep(DEEP) + "}}\n",
        "line 2",
        "meta",
        "deeper than",
    ),
    (
        "deep-but-parsable.json",
        '[{"name": "A", "tags": ' + deep(MAX_NESTING + 5) + "}]",
        "record 1 (line 1)",
        "tags",
        f"nests deeper than {MAX_NESTING} levels",
    ),
    (
        "dup-key.json",
        '[{"name": "A"},\n {"name": "B", "website": "b.com", "name": "C"}]',
        "record 2 (line 2)",
        "name",
        "appears twice",
    ),
    (
        "dup-nested-key.jsonl",
        '{"name": "A", "meta": {"k": 1, "k": 2}}\n',
        "line 1",
        "k",
        "appears twice",
    ),
    (
        "surrogate.json",
        '[{"name": "A"},\n {"name": "B\\ud800", "website": "b.com"}]',
        "record 2 (line 2)",
        "name",
        "lone surrogate",
    ),
    (
        "surrogate-nested.jsonl",
        '{"name": "A", "tags": ["ok", {"x": "\\udfff"}]}\n',
        "line 1",
        "tags",
        "lone surrogate",
    ),
    (
        "surrogate-key.jsonl",
        '{"name": "A", "\\ud83d": 1}\n',
        "line 1",
        "\ud83d",
        "lone surrogate",
    ),
]


@pytest.mark.parametrize(
    ("filename", "content", "location", "field", "words"), CASES, ids=[c[0] for c in CASES]
)
def test_hostile_json_is_refused_and_nothing_is_written(
    store: LeadStore,
    tmp_path: Path,
    filename: str,
    content: str,
    location: str,
    field: str | None,
    words: str,
) -> None:
    store.import_rows("leads", [("a", {"name": "kept"})])
    path = tmp_path / filename
    path.write_text(content, encoding="utf-8")
    with pytest.raises(LeadFileError) as info:
        import_file(store, path, "leads")
    error = info.value
    assert (error.location, error.field) == (location, field)
    assert words in error.problem
    assert "\n" not in str(error)
    str(error).encode("utf-8")  # printable: no surrogate reaches the message
    assert [(r.row_id, r.fields) for r in store.rows("leads")] == [("a", {"name": "kept"})]


def test_a_file_name_that_is_not_utf8_imports_and_prints(store: LeadStore, tmp_path: Path) -> None:
    raw = os.fsencode(tmp_path) + b"/leads-\xff\xfe.csv"
    with open(raw, "wb") as handle:
        handle.write(b"name,website\nA,a.com\n")
    path = Path(os.fsdecode(raw))
    report = import_file(store, path, "odd")
    assert report.added == 1
    [info] = store.lists()
    assert info.source is not None and info.source.endswith("leads-\\xff\\xfe.csv")
    with open(raw, "wb") as handle:
        handle.write(b"name,website\nA,a.com\nB\n")
    with pytest.raises(LeadFileError) as error:
        import_file(store, path, "odd")
    assert "leads-\\xff\\xfe.csv, line 3" in str(error.value)
    str(error.value).encode("utf-8")
