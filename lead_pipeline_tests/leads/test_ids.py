"""Stable ids: what counts as the same company."""

from __future__ import annotations

from pathlib import Path

import pytest

from lead_pipeline.leads.ids import (
    MAX_ID_CHARS,
    NAME_COLUMNS,
    WEBSITE_COLUMNS,
    assign_ids,
    find_column,
    normalise_domain,
    normalise_name,
)
from lead_pipeline.leads.readers import SourceRecord


@pytest.mark.parametrize(
    ("website", "key"),
    [
        ("https://www.Acme.com/about?x=1#top", "acme.com"),
        ("http://acme.com", "acme.com"),
        ("acme.com", "acme.com"),
        ("www.acme.com/", "acme.com"),
        ("  ACME.COM.  ", "acme.com"),
        ("https://acme.com:8443/x", "acme.com"),
        ("//shop.acme.co.uk", "shop.acme.co.uk"),
        ("https://user@acme.io", "acme.io"),
        ("https://bücher.de", "bücher.de"),
        ("", None),
        ("n/a", None),
        ("localhost", None),
        (None, None),
        (42, None),
    ],
)
def test_normalise_domain(website: object, key: str | None) -> None:
    assert normalise_domain(website) == key


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Acme, Inc.", "acme-inc"),
        ("  ACME   inc ", "acme-inc"),
        ("Crème Brûlée Co", "creme-brulee-co"),
        ("株式会社 テスト", "株式会社-テスト"),
        ("a_b", "a-b"),
        (2026, "2026"),
        ("!!!", None),
        ("", None),
        (None, None),
        (["list"], None),
    ],
)
def test_normalise_name(name: object, key: str | None) -> None:
    assert normalise_name(name) == key


def test_long_keys_stay_unique_within_the_column() -> None:
    a = normalise_name("x" * 300 + "a")
    b = normalise_name("x" * 300 + "b")
    assert a is not None and b is not None
    assert len(a) == len(b) == MAX_ID_CHARS and a != b


def test_columns_are_found_case_and_spacing_insensitively() -> None:
    assert find_column(["Company Name", "Website URL"], NAME_COLUMNS) == "Company Name"
    assert find_column(["Company Name", "Website URL"], WEBSITE_COLUMNS) == "Website URL"
    # "website" beats "url" (a YC listing has both; url is YC's own page).
    assert find_column(["url", "website"], WEBSITE_COLUMNS) == "website"
    assert find_column(["notes"], NAME_COLUMNS) is None


def test_website_then_name_then_explicit_id() -> None:
    records = [
        SourceRecord("line 2", {"name": "Acme", "website": "https://acme.com"}),
        SourceRecord("line 3", {"name": "No Site Ltd", "website": None}),
        SourceRecord("line 4", {"name": "Bad Site", "website": "n/a", "crm": 7.0}),
    ]
    rows = assign_ids(Path("f.csv"), records)
    assert [key for key, _ in rows] == ["acme.com", "no-site-ltd", "bad-site"]
    records[0].fields["crm"], records[1].fields["crm"] = "A-1", " 12 "
    rows = assign_ids(Path("f.csv"), records, "crm")
    assert [key for key, _ in rows] == ["A-1", "12", "7"]
    assert rows[0][1]["crm"] == "A-1"  # the id column stays a base field


def test_an_id_column_from_our_own_export_is_reused_and_not_kept() -> None:
    records = [SourceRecord("line 2", {"_id": "acme.com", "name": "Acme Renamed"})]
    assert assign_ids(Path("export.csv"), records) == [("acme.com", {"name": "Acme Renamed"})]
