"""The lead-file sensor imports with the list's stored mapping and id rule."""

from __future__ import annotations

from pathlib import Path

from lead_pipeline.defs.resources import LeadStoreResource
from lead_pipeline.defs.sensors import scan
from lead_pipeline.leads import import_file


def test_the_sensor_reuses_the_mapping_given_on_the_command_line(
    db_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "leads"
    folder.mkdir()
    path = folder / "crm.csv"
    path.write_text("crm_id,Account Name,Notes,Summary\n7,Acme,Banks,Old\n", encoding="utf-8")
    resource = LeadStoreResource(db_url=db_url)
    store = resource.get()
    try:
        import_file(store, path, "crm", id_column="crm_id", field_map={"description": "Notes"})
        path.write_text("crm_id,Account Name,Notes,Summary\n7,Acme,Insurers,Old\n")
        tick = scan(folder, {}, resource)
        assert tick.errors == [] and [name for name, _ in tick.imported] == ["crm"]
        assert [r.row_id for r in store.rows("crm")] == ["7"]  # the stored id rule held
        assert store.row_values("crm")["7"]["description"] == "Insurers"
    finally:
        store.dispose()


def test_a_file_name_that_is_not_utf8_is_reported_printably(db_url: str, tmp_path: Path) -> None:
    import os

    folder = tmp_path / "leads"
    folder.mkdir()
    with open(os.fsencode(folder) + b"/Bad-\xff.csv", "wb") as handle:
        handle.write(b"name,website\nA,a.com\n")
    resource = LeadStoreResource(db_url=db_url)
    try:
        tick = scan(folder, {}, resource)
    finally:
        resource.get().dispose()
    [error] = tick.errors
    error.encode("utf-8")  # printable, so Dagster's log can hold it
    assert "Bad-\\xff.csv: the file name is the lead list name" in error
