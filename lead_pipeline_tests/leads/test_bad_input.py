"""Every bad file gets one error naming the file, the place and the field; nothing is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lead_pipeline.leads import LeadFileError, import_file
from lead_pipeline.leads.validate import MAX_CELL_BYTES
from lead_pipeline.store import InvalidNameError, LeadStore

BIG = "x" * (MAX_CELL_BYTES + 1)

# (file name, content, error location, error field, words the message must hold)
CASES: list[tuple[str, bytes, str | None, str | None, str]] = [
    ("empty.csv", b"", None, None, "empty"),
    ("blank.json", b"  \n\n ", None, None, "empty"),
    ("header-only.csv", b"name,website\n", None, None, "no records"),
    ("empty-array.json", b"[]", None, None, "no records"),
    (
        "latin1.csv",
        b"name,website,city\nAcme,acme.com,Z\xfcrich\n",
        "line 2",
        "city",
        "not UTF-8",
    ),
    (
        "latin1.json",
        b'[\n{"name": "A", "website": "a.com"},\n{"name": "B\xe9", "website": "b.com"}\n]',
        "line 3",
        "name",
        "not UTF-8",
    ),
    (
        "latin1.jsonl",
        b'{"name": "A"}\n{"name": "A", "city": "K\xf6ln"}\n',
        "line 2",
        "city",
        "not UTF-8",
    ),
    ("trailing-comma.json", b'[\n{"name": "A"},\n]', "line 3, column 1", None, "malformed JSON"),
    ("not-array.json", b'{"name": "A"}', "line 1", None, "found a JSON object"),
    ("not-object.json", b'[{"name": "A"},\n 3]', "record 2 (line 2)", None, "found a JSON number"),
    ("nan.json", b'[{"name": "A", "score": NaN}]', "line 1", None, "NaN is not valid JSON"),
    ("huge.json", b'[{"name": "A", "n": 1e400}]', "record 1 (line 1)", "n", "out of range"),
    ("huge-nested.jsonl", b'{"name": "A", "n": [-1e999]}', "line 1", "n", "out of range"),
    ("broken.jsonl", b'{"name": "A"}\n{"name": "B",}\n', "line 2, column 14", None, "malformed"),
    ("list.jsonl", b'{"name": "A"}\n["B"]\n', "line 2", None, "found a JSON array"),
    ("cells.csv", b"name,website\nA,a.com\nB,b.com,extra\n", "line 3", None, "3 cells"),
    ("quote.csv", b'name,website\n"A"x,a.com\n', "line 2", None, "malformed CSV"),
    (
        "open-quote.csv",
        b'name,website\nA,a.com\n"B,b.com\nC,c.com\n',
        "line 3",
        None,
        "never closed",
    ),
    ("dup-header.csv", b"name,website,name\nA,a.com,B\n", "line 1", "name", "twice"),
    ("no-header-name.tsv", b"name\t\nA\tx\n", "line 1", None, "column 2 of the header"),
    ("columns.csv", b"city,notes\nParis,x\n", None, None, "no usable name or website column"),
    (
        "no-key.csv",
        b"name,website,city\nA,a.com,Paris\n,,Berlin\n",
        "line 3",
        "website",
        "no usable website or name",
    ),
    (
        "dup.csv",
        b"name,website\nA,https://a.com\nB,b.com\nA2,http://www.a.com/x\n",
        "line 4",
        "website",
        "duplicate id 'a.com': line 2 has the same id",
    ),
    (
        "dup-name.json",
        b'[{"name": "Acme Inc"},\n {"name": "ACME, inc."}]',
        "record 2 (line 2)",
        "name",
        "duplicate id 'acme-inc': record 1 (line 1)",
    ),
    (
        "big.csv",
        f"name,website,about\nA,a.com,{BIG}\n".encode(),
        "line 2",
        "about",
        f"{MAX_CELL_BYTES + 1:,} bytes",
    ),
    (
        "big-nested.jsonl",
        json.dumps({"name": "A", "pages": [BIG[:60_000], BIG[:60_000]]}).encode(),
        "line 1",
        "pages",
        "the limit is",
    ),
    ("bad.parquet", b"PAR1 this is not parquet", None, None, "not a readable Parquet file"),
    ("leads.xlsx", b"PK\x03\x04", None, None, "cannot tell the format"),
]


@pytest.mark.parametrize(
    ("filename", "content", "location", "field", "words"),
    CASES,
    ids=[case[0] for case in CASES],
)
def test_bad_file_is_refused_and_nothing_is_written(
    store: LeadStore,
    tmp_path: Path,
    filename: str,
    content: bytes,
    location: str | None,
    field: str | None,
    words: str,
) -> None:
    good = tmp_path / "good.csv"
    good.write_text("name,website\nKeep,keep.com\n")
    import_file(store, good, "leads")
    path = tmp_path / filename
    path.write_bytes(content)

    with pytest.raises(LeadFileError) as info:
        import_file(store, path, "leads", prune=True)

    error = info.value
    message = str(error)
    assert message.startswith(str(path))
    assert (error.location, error.field) == (location, field)
    if location:
        assert location in message
    if field:
        assert f"field {field!r}" in message
    assert words in message
    assert "\n" not in message.strip() or filename.endswith("csv")
    # The failed import neither pruned nor added anything.
    assert [(r.row_id, r.fields) for r in store.rows("leads")] == [
        ("keep.com", {"name": "Keep", "website": "keep.com"})
    ]
    assert [i.source for i in store.lists()] == [str(good.resolve())]


def test_missing_file_and_bad_id_column(store: LeadStore, tmp_path: Path) -> None:
    with pytest.raises(LeadFileError, match="no such file"):
        import_file(store, tmp_path / "nope.csv", "leads")
    path = tmp_path / "l.csv"
    path.write_text("name,crm\nA,1\nB,\n")
    with pytest.raises(LeadFileError, match="'id' is not a column") as info:
        import_file(store, path, "leads", id_column="id")
    assert info.value.field == "id"
    with pytest.raises(LeadFileError, match="the id is empty") as info:
        import_file(store, path, "leads", id_column="crm")
    assert (info.value.location, info.value.field) == ("line 3", "crm")
    assert store.lists() == []


@pytest.mark.parametrize("name", ["../x", "a;drop table", "Leads", "", "a/b", "x" * 65])
def test_bad_list_name_is_refused_before_reading(
    store: LeadStore, tmp_path: Path, name: str
) -> None:
    path = tmp_path / "l.csv"
    path.write_text("name\nA\n")
    with pytest.raises(InvalidNameError, match="lowercase letters, digits"):
        import_file(store, path, name)
    assert store.lists() == []
