"""Canonical lead fields and the column names CRMs and spreadsheets use for them.

A lead file keeps its own column names (``Company Name``, ``Website URL``,
``Organization - Name``); workflows read canonical names (``name``,
``website``). At import each canonical field is matched to one column of the
file: a ``--map FIELD=COLUMN`` the user gave, else the first alias below that
the file has. Matching ignores case, spaces and punctuation (``Website URL``,
``website_url`` and ``WEBSITE-URL`` are one key), so each alias is listed once.

The lists come from what real exports write: HubSpot (``Company name``,
``Company Domain Name``, ``About Us``, ``Country/Region``), Salesforce
(``Account Name``, ``Billing Country``), Pipedrive (``Organization - Name``,
``Organization - Website``), Apollo (``Company``, ``Company Linkedin Url``,
``Short Description``), LinkedIn Sales Navigator exports (``Company Name``,
``Company Website``, ``Company Description``, ``LinkedIn Company URL``),
Crunchbase (``Organization Name``, ``Full Description``, ``Contact Email``) and
the YC directory (``long_description``, ``one_liner``). Order matters: the
first alias a file has wins, so the more specific names come first.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lead_pipeline.leads.errors import describe_columns, looks_like_column
from lead_pipeline.store.records import CANONICAL_FIELDS

FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "name": (
        "name",
        "company name",
        "company",
        "organization name",
        "organization",
        "organisation name",
        "organisation",
        "account name",
        "account",
        "business name",
        "company name for emails",
        "brand",
    ),
    "website": (
        "website",
        "website url",
        "company website",
        "organization website",
        "company domain name",
        "company domain",
        "domain",
        "homepage",
        "homepage url",
        "web address",
        "url",
        "web",
        "site",
    ),
    "description": (
        "description",
        "long description",
        "full description",
        "company description",
        "organization description",
        "about",
        "about us",
        "summary",
        "overview",
        "company overview",
        "seo description",
    ),
    "one_liner": (
        "one liner",
        "oneliner",
        "tagline",
        "short description",
        "headline",
        "elevator pitch",
        "pitch",
        "slogan",
    ),
    "linkedin_url": (
        "linkedin url",
        "linkedin",
        "company linkedin url",
        "linkedin company url",
        "linkedin company page",
        "company linkedin",
        "linkedin profile",
        "linkedin page",
        "organization linkedin",
    ),
    "country": (
        "country",
        "country region",
        "company country",
        "organization address country",
        "billing country",
        "headquarters country",
        "hq country",
        "country code",
    ),
    "email": (
        "email",
        "email address",
        "work email",
        "business email",
        "contact email",
        "primary email",
        "company email",
    ),
}


def column_key(column: str) -> str:
    """What a column name is matched by: letters and digits only, case and width folded."""
    text = unicodedata.normalize("NFKC", column).casefold()
    return "".join(ch for ch in text if ch.isalnum())


class FieldMappingError(ValueError):
    """A ``--map`` that names no canonical field, or a column the file does not have."""


@dataclass(frozen=True)
class FieldMapping:
    """Which column of the lead file each canonical field reads.

    ``columns`` maps field -> column for every field the file provides;
    ``explicit`` holds the fields the user set (``--map``), which a re-import
    keeps, and ``unmapped`` the fields the user turned off (``--map FIELD=``).
    Guesses are made again on every import from the file's own columns.
    """

    columns: dict[str, str] = field(default_factory=dict)
    explicit: dict[str, str] = field(default_factory=dict)
    unmapped: frozenset[str] = frozenset()

    def to_json(self) -> dict[str, Any]:
        return {
            # Every canonical field, so the store can give unmapped ones as None
            # without importing this module.
            "fields": list(CANONICAL_FIELDS),
            "columns": dict(self.columns),
            "explicit": dict(self.explicit),
            "unmapped": sorted(self.unmapped),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> FieldMapping:
        if not data:
            return cls()
        return cls(
            columns={str(k): str(v) for k, v in (data.get("columns") or {}).items()},
            explicit={str(k): str(v) for k, v in (data.get("explicit") or {}).items()},
            unmapped=frozenset(str(f) for f in data.get("unmapped") or ()),
        )

    def overrides(self) -> dict[str, str | None]:
        """The user's own choices, as ``--map`` would give them again."""
        chosen: dict[str, str | None] = dict(self.explicit)
        chosen.update(dict.fromkeys(self.unmapped))
        return chosen

    def describe(self) -> str:
        """One line: ``name <- Company Name, website <- Website URL (--map), ...``."""
        parts = []
        for name in CANONICAL_FIELDS:
            if name in self.columns:
                how = " (--map)" if name in self.explicit else ""
                parts.append(f"{name} <- {self.columns[name]}{how}")
            elif name in self.unmapped:
                parts.append(f"{name} <- (none, --map)")
        return ", ".join(parts) if parts else "no canonical field found"

    def canonical_values(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """The canonical fields of one stored row, read from their mapped columns."""
        return {name: fields.get(column) for name, column in self.columns.items()}


def check_field(name: str) -> str:
    if name not in CANONICAL_FIELDS:
        close = difflib.get_close_matches(name, CANONICAL_FIELDS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise FieldMappingError(
            f"--map {name}=...: {name!r} is not a lead field{hint}; "
            f"the lead fields are {', '.join(CANONICAL_FIELDS)}"
        )
    return name


def parse_map_option(text: str) -> tuple[str, str | None]:
    """``FIELD=COLUMN`` -> (field, column); ``FIELD=`` turns the field off."""
    name, sep, column = text.partition("=")
    if not sep:
        raise FieldMappingError(f"--map {text!r}: write it as FIELD=COLUMN, e.g. name=Company")
    column = column.strip()
    return check_field(name.strip()), (column or None)


def guess_mapping(
    columns: Sequence[str], overrides: Mapping[str, str | None] | None = None
) -> FieldMapping:
    """Each canonical field's column: the user's override, else the first alias present.

    A column serves one field only, so ``URL`` cannot be both ``website`` and
    ``linkedin_url``. Raises :class:`FieldMappingError` for an override naming
    a column the file lacks.
    """
    overrides = dict(overrides or {})
    by_key: dict[str, str] = {}
    for each in columns:
        by_key.setdefault(column_key(each), each)
    chosen: dict[str, str] = {}
    explicit: dict[str, str] = {}
    for name, column in overrides.items():
        check_field(name)
        if column is None:
            continue
        if column not in columns:
            found = by_key.get(column_key(column))
            if found is None:
                shown = [c for c in columns if looks_like_column(c)]
                close = difflib.get_close_matches(column, shown, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise FieldMappingError(
                    f"--map {name}={column}: the file has no column {column!r}{hint}; "
                    f"its columns are: {describe_columns(list(columns))}"
                )
            column = found
        chosen[name] = explicit[name] = column
    used = set(chosen.values())
    for name in CANONICAL_FIELDS:
        if name in overrides:
            continue
        for alias in FIELD_ALIASES[name]:
            column = by_key.get(column_key(alias))
            if column is not None and column not in used:
                chosen[name] = column
                used.add(column)
                break
    ordered = {name: chosen[name] for name in CANONICAL_FIELDS if name in chosen}
    unmapped = frozenset(name for name, column in overrides.items() if column is None)
    return FieldMapping(columns=ordered, explicit=explicit, unmapped=unmapped)
