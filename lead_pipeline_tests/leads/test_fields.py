"""Canonical lead fields guessed from the column names real exports use."""

from __future__ import annotations

import pytest

from lead_pipeline.leads.fields import (
    CANONICAL_FIELDS,
    FIELD_ALIASES,
    FieldMapping,
    FieldMappingError,
    column_key,
    guess_mapping,
    parse_map_option,
)

HUBSPOT = ["Record ID", "Company name", "Company Domain Name", "Website URL", "About Us",
           "Description", "LinkedIn Company Page", "Country/Region"]  # fmt: skip
SALESFORCE = ["Account Name", "Website", "Description", "Billing Country"]
PIPEDRIVE = ["Organization - Name", "Organization - Website", "Organization - Address country"]
APOLLO = ["Company", "Company Name for Emails", "Website", "Company Linkedin Url",
          "Short Description", "SEO Description", "Company Country", "Email"]  # fmt: skip
YC = ["name", "website", "one_liner", "long_description", "batch"]


def test_every_canonical_field_has_its_own_name_first() -> None:
    assert set(FIELD_ALIASES) == set(CANONICAL_FIELDS)
    for name in CANONICAL_FIELDS:
        assert column_key(FIELD_ALIASES[name][0]) == column_key(name)


def test_no_alias_belongs_to_two_fields() -> None:
    seen: dict[str, str] = {}
    for name, aliases in FIELD_ALIASES.items():
        for alias in aliases:
            assert seen.setdefault(column_key(alias), name) == name, alias


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        (
            HUBSPOT,
            {"name": "Company name", "website": "Website URL", "description": "Description",
             "linkedin_url": "LinkedIn Company Page", "country": "Country/Region"},
        ),
        (
            SALESFORCE,
            {"name": "Account Name", "website": "Website", "description": "Description",
             "country": "Billing Country"},
        ),
        (
            PIPEDRIVE,
            {"name": "Organization - Name", "website": "Organization - Website",
             "country": "Organization - Address country"},
        ),
        (
            APOLLO,
            {"name": "Company", "website": "Website", "description": "SEO Description",
             "one_liner": "Short Description", "linkedin_url": "Company Linkedin Url",
             "country": "Company Country", "email": "Email"},
        ),
        (
            YC,
            {"name": "name", "website": "website", "description": "long_description",
             "one_liner": "one_liner"},
        ),
    ],
)  # fmt: skip
def test_guesses_from_real_export_headers(columns: list[str], expected: dict[str, str]) -> None:
    assert guess_mapping(columns).columns == expected


WIDE_WEBSITE_URL = "".join(chr(ord(c) + 0xFEE0) for c in "website_url")  # full-width forms


def test_matching_ignores_case_space_punctuation_and_width() -> None:
    mapping = guess_mapping(["COMPANY-NAME", WIDE_WEBSITE_URL, " e-mail address "])
    assert mapping.columns == {
        "name": "COMPANY-NAME",
        "website": WIDE_WEBSITE_URL,
        "email": " e-mail address ",
    }


def test_overrides_win_and_a_column_serves_one_field() -> None:
    mapping = guess_mapping(["Company", "URL", "Notes"], {"linkedin_url": "URL", "website": None})
    assert mapping.columns == {"name": "Company", "linkedin_url": "URL"}
    assert mapping.explicit == {"linkedin_url": "URL"}
    assert mapping.unmapped == {"website"}
    assert FieldMapping.from_json(mapping.to_json()) == mapping
    assert mapping.overrides() == {"linkedin_url": "URL", "website": None}
    assert "linkedin_url <- URL (--map)" in mapping.describe()


def test_bad_overrides_are_refused_with_a_hint() -> None:
    with pytest.raises(FieldMappingError, match=r"'nme' is not a lead field.*'name'"):
        parse_map_option("nme=Company")
    with pytest.raises(FieldMappingError, match="FIELD=COLUMN"):
        parse_map_option("name")
    with pytest.raises(FieldMappingError, match=r"no column 'Compny'.*'Company'"):
        guess_mapping(["Company"], {"name": "Compny"})
    assert parse_map_option("description = Notes") == ("description", "Notes")
    assert parse_map_option("website=") == ("website", None)
