"""Lead files as users have them: CRM column names, other delimiters, encodings, duplicates."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pytest

from lead_pipeline.leads import LeadFileError, import_file
from lead_pipeline.leads.readers import read_records
from lead_pipeline.store import LeadStore

COMPANIES = [
    ("Acme Bank Software", "https://acme-bank.example.com", "Enterprise software for banks"),
    ("Teen Date", "teendate.example", "A dating app for teenagers; fun, fast"),
    ("Zürich Logistik AG", "zh-logistik.example.ch", 'Freight for "Swiss" retailers'),
]
CANONICAL = ("name", "website", "description")


def csv_text(header: list[str], delimiter: str = ",") -> str:
    def cell(value: str) -> str:
        if any(ch in value for ch in (delimiter, '"', "\n")):
            return '"' + value.replace('"', '""') + '"'
        return value

    lines = [delimiter.join(header)]
    lines += [delimiter.join(cell(v) for v in row) for row in COMPANIES]
    return "\n".join(lines) + "\n"


def canonical(store: LeadStore, name: str) -> dict[str, dict[str, object]]:
    return {
        row_id: {f: values[f] for f in CANONICAL}
        for row_id, values in store.row_values(name).items()
    }


def test_a_crm_export_reads_as_the_same_companies_under_our_names(
    store: LeadStore, tmp_path: Path
) -> None:
    ours = tmp_path / "ours.json"
    ours.write_text(
        json.dumps([{"name": n, "website": w, "long_description": d} for n, w, d in COMPANIES])
    )
    crm = tmp_path / "hubspot.csv"
    crm.write_text(csv_text(["Company Name", "Website URL", "Description"]), encoding="utf-8")
    import_file(store, ours, "ours")
    report = import_file(store, crm, "crm")
    assert report.field_map is not None
    assert report.field_map["columns"] == {
        "name": "Company Name",
        "website": "Website URL",
        "description": "Description",
    }
    assert canonical(store, "crm") == canonical(store, "ours")
    assert canonical(store, "crm")["teendate.example"]["description"] == COMPANIES[1][2]
    # The imported columns stay as they were; every canonical field is there, None if unmapped.
    values = store.row_values("crm")["acme-bank.example.com"]
    assert values["Company Name"] == "Acme Bank Software"
    assert values["one_liner"] is None and values["email"] is None
    assert store.rows("crm")[0].fields == dict(
        zip(["Company Name", "Website URL", "Description"], COMPANIES[0], strict=True)
    )


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiters_are_detected(tmp_path: Path, delimiter: str) -> None:
    path = tmp_path / "leads.csv"
    path.write_text(csv_text(["name", "website", "description"], delimiter), encoding="utf-8")
    records = read_records(path)
    assert [r.fields["description"] for r in records] == [c[2] for c in COMPANIES]


def test_a_semicolon_file_full_of_commas_is_still_semicolons(tmp_path: Path) -> None:
    path = tmp_path / "eu.csv"
    path.write_text("name;website;notes\nA, B and C;a.com;x, y, z\nD;d.com;1,5 EUR\n")
    records = read_records(path)
    assert records[0].fields == {"name": "A, B and C", "website": "a.com", "notes": "x, y, z"}


def test_a_wrong_delimiter_says_which_one_the_file_looks_like(tmp_path: Path) -> None:
    path = tmp_path / "eu.csv"
    path.write_text(csv_text(["name", "website", "description"], ";"))
    with pytest.raises(LeadFileError) as info:
        read_records(path, delimiter=",")
    assert "one wide column" in str(info.value) and "--delimiter semicolon" in str(info.value)
    assert read_records(path, delimiter="semicolon")[0].fields["name"] == COMPANIES[0][0]
    with pytest.raises(LeadFileError, match="not a delimiter"):
        read_records(path, delimiter=":")
    with pytest.raises(LeadFileError, match="applies to CSV"):
        read_records(tmp_path / "x.json", delimiter=";")


def test_a_ragged_pipe_file_names_the_line_and_the_delimiter(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("name|website\nA|a.com\nB|b.com|extra\n")
    with pytest.raises(LeadFileError) as info:
        read_records(path)
    assert "line 3" in str(info.value) and "3 cells" in str(info.value)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be"], ids=str)
def test_encodings_with_and_without_bom(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "leads.csv"
    path.write_bytes(csv_text(["name", "website", "description"], ";").encode(encoding))
    records = read_records(path)
    assert [r.fields["name"] for r in records] == [c[0] for c in COMPANIES]


def test_nul_bytes_that_are_no_utf16_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "binary.csv"
    path.write_bytes(b"name,website\nA\x00\xff\xfe\x01\x02,a.com\n" + bytes(range(256)))
    with pytest.raises(LeadFileError, match="NUL byte at offset 14"):
        read_records(path)
    assert codecs.BOM_UTF16_LE  # the BOM case is covered above


def test_exact_duplicates_collapse_and_conflicts_name_both_lines(
    store: LeadStore, tmp_path: Path
) -> None:
    path = tmp_path / "dups.csv"
    path.write_text("name,website,size\nA,a.com,1\nB,b.com,2\nA,a.com,1\nA,a.com,1\n")
    report = import_file(store, path, "dups")
    assert (report.added, report.total) == (2, 2)
    assert report.notes == ["2 exact duplicate row(s) collapsed into one"]

    path.write_text("name,website,size\nA,a.com,1\nB,b.com,2\nA,https://www.a.com,3\n")
    with pytest.raises(LeadFileError) as info:
        import_file(store, path, "dups")
    message = str(info.value)
    assert "line 4" in message and "line 2 has the same id" in message
    assert "--on-duplicate" in message

    first = import_file(store, path, "dups", on_duplicate="first")
    assert first.unchanged == 2 and "kept the first" in first.notes[0]
    last = import_file(store, path, "dups", on_duplicate="last")
    assert last.updated == 1
    assert {r.row_id: r.fields["size"] for r in store.rows("dups")} == {"a.com": "3", "b.com": "2"}


def test_a_changed_row_is_updated_and_workflows_read_the_new_text(
    store: LeadStore, tmp_path: Path
) -> None:
    path = tmp_path / "crm.csv"
    path.write_text(csv_text(["Company", "Domain", "About"]))
    import_file(store, path, "crm")
    path.write_text(csv_text(["Company", "Domain", "About"]).replace("for banks", "for insurers"))
    report = import_file(store, path, "crm")
    assert (report.added, report.updated, report.unchanged) == (0, 1, 2)
    description = store.row_values("crm")["acme-bank.example.com"]["description"]
    assert description == "Enterprise software for insurers"


def test_the_mapping_is_stored_and_reused_by_a_reimport(store: LeadStore, tmp_path: Path) -> None:
    path = tmp_path / "crm.csv"
    path.write_text("Account Name,URL,Notes,Summary\nAcme,acme.com,Banks,Old text\n")
    first = import_file(store, path, "crm", field_map={"description": "Notes"})
    assert first.field_map is not None
    assert first.field_map["columns"]["description"] == "Notes"
    again = import_file(store, path, "crm")
    assert again.unchanged == 1 and again.field_map == first.field_map
    info = store.list_info("crm")
    assert info is not None and info.field_map == first.field_map and info.id_rule == "derived"
    assert store.row_values("crm")["acme.com"]["description"] == "Banks"

    turned_off = import_file(store, path, "crm", field_map={"description": None})
    assert "description" not in turned_off.field_map["columns"]  # type: ignore[index]
    assert store.row_values("crm")["acme.com"]["description"] is None

    import_file(store, path, "crm", field_map={"description": "Notes"})
    path.write_text("Account Name,URL,Summary\nAcme,acme.com,Old text\n")
    with pytest.raises(LeadFileError, match=r"maps description to column 'Notes'.*--map"):
        import_file(store, path, "crm")
    with pytest.raises(LeadFileError, match=r"no column 'Note'.*'Notes'|no column 'Note'"):
        import_file(store, path, "crm", field_map={"description": "Note"})


def test_another_id_rule_is_refused_and_the_stored_one_reused(
    store: LeadStore, tmp_path: Path
) -> None:
    path = tmp_path / "crm.csv"
    path.write_text("crm_id,name,website\n7,Acme,acme.com\n8,Beta,beta.com\n")
    import_file(store, path, "derived")
    with pytest.raises(LeadFileError, match="takes its ids from the website's domain") as info:
        import_file(store, path, "derived", id_column="crm_id")
    assert "double" in str(info.value)
    assert store.row_count("derived") == 2

    import_file(store, path, "by-crm", id_column="crm_id")
    again = import_file(store, path, "by-crm")  # no --id-column: the stored rule holds
    assert again.unchanged == 2 and [r.row_id for r in store.rows("by-crm")] == ["7", "8"]
    with pytest.raises(LeadFileError, match="takes its ids from column 'crm_id'"):
        import_file(store, path, "by-crm", id_column="name")
    path.write_text("name,website\nAcme,acme.com\n")
    with pytest.raises(LeadFileError, match="column 'crm_id', which this file does not have"):
        import_file(store, path, "by-crm")
    assert store.row_count("by-crm") == 2


def test_ids_are_unicode_normalised_wherever_they_come_from(
    store: LeadStore, tmp_path: Path
) -> None:
    wide = "".join(chr(ord(c) + 0xFEE0) for c in "acme")  # full-width letters
    rows = [
        {"name": "Café Inc", "website": f"https://{wide}.com"},
        {"name": "Cafe\u0301 Inc", "website": "acme.com"},  # decomposed accent, same site
    ]
    path = tmp_path / "ids.json"
    path.write_text(json.dumps(rows))
    with pytest.raises(LeadFileError, match=r"duplicate id 'acme\.com'"):
        import_file(store, path, "ids")
    path.write_text(json.dumps([{"crm": "Cafe\u0301-\uff11", "n": 1}, {"crm": "Caf\u00e9-1"}]))
    with pytest.raises(LeadFileError, match=r"duplicate id 'Caf\u00e9-1'"):
        import_file(store, path, "crm-ids", id_column="crm")
    path.write_text(json.dumps([{"crm": "Cafe\u0301-\uff11", "n": 1}]))
    import_file(store, path, "crm-ids", id_column="crm")
    assert [r.row_id for r in store.rows("crm-ids")] == ["Caf\u00e9-1"]
