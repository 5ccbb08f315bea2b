"""Stable row ids: the same company gets the same ``_id`` on every import.

The id is what makes re-import idempotent and keeps enrichment results attached
to their row, so it must depend only on what identifies the company, never on
its position in the file or on cosmetic differences ("https://www.Acme.com/about"
and "acme.com" are one company).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lead_pipeline.domains import domain_name
from lead_pipeline.leads.errors import LeadFileError
from lead_pipeline.leads.readers import SourceRecord
from lead_pipeline.store import ID_COLUMN

# Looked up in this order, case-insensitively, with spaces and dashes read as "_".
WEBSITE_COLUMNS = (
    "website",
    "domain",
    "homepage",
    "company_website",
    "website_url",
    "company_domain",
    "url",
    "web",
    "site",
)
NAME_COLUMNS = (
    "name",
    "company",
    "company_name",
    "organization",
    "organisation",
    "account_name",
    "account",
)

MAX_ID_CHARS = 160  # the store's row_id column width


def _fit(key: str) -> str:
    """Keep long keys unique and within the column width."""
    if len(key) <= MAX_ID_CHARS:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return f"{key[: MAX_ID_CHARS - 17]}-{digest}"


def normalise_domain(value: Any) -> str | None:
    """``https://www.Acme.com/about?x=1`` -> ``acme.com``; None when it is no host name."""
    host = domain_name(value)
    return _fit(host) if host else None


def normalise_name(value: Any) -> str | None:
    """``"Acme, Inc."`` -> ``acme-inc``; accents folded, other scripts kept."""
    if value is None or isinstance(value, bool | list | dict):
        return None
    text = unicodedata.normalize("NFKD", str(value))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    slug = re.sub(r"[\W_]+", "-", text).strip("-")
    return _fit(slug) if slug else None


def _canonical(column: str) -> str:
    return re.sub(r"[\s-]+", "_", column.strip().lower())


def find_column(columns: Sequence[str], candidates: Sequence[str]) -> str | None:
    by_canonical: dict[str, str] = {}
    for column in columns:
        by_canonical.setdefault(_canonical(column), column)
    for candidate in candidates:
        if candidate in by_canonical:
            return by_canonical[candidate]
    return None


def _columns(records: Sequence[SourceRecord]) -> list[str]:
    seen: dict[str, None] = {}
    for record in records:
        for key in record.fields:
            seen.setdefault(key, None)
    return list(seen)


def _explicit_id(path: Path, record: SourceRecord, column: str) -> str:
    value = record.fields.get(column)
    if isinstance(value, list | dict | bool):
        raise LeadFileError(
            path, "an id must be text or a number", location=record.location, field=column
        )
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = "" if value is None else str(value).strip()
    if not text:
        raise LeadFileError(path, "the id is empty", location=record.location, field=column)
    if len(text) > MAX_ID_CHARS:
        raise LeadFileError(
            path,
            f"the id is {len(text)} characters long; the limit is {MAX_ID_CHARS}",
            location=record.location,
            field=column,
        )
    return text


def assign_ids(
    path: Path, records: Sequence[SourceRecord], id_column: str | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """``(_id, base fields)`` per record; two records with one id are an error.

    A ``_id`` column (as in our own exports) is the id when no ``id_column`` is
    given, and is never kept as a base field: the wide view owns that name.
    """
    columns = _columns(records)
    if id_column is not None and id_column not in columns:
        raise LeadFileError(
            path,
            f"--id-column {id_column!r} is not a column of the file "
            f"(columns: {', '.join(columns)})",
            field=id_column,
        )
    explicit = id_column or (ID_COLUMN if ID_COLUMN in columns else None)
    website = name = None
    if explicit is None:
        website = find_column(columns, WEBSITE_COLUMNS)
        name = find_column(columns, NAME_COLUMNS)
        if website is None and name is None:
            raise LeadFileError(
                path,
                "no usable name or website column: expected a website column "
                f"({', '.join(WEBSITE_COLUMNS)}) or a name column ({', '.join(NAME_COLUMNS)}), "
                f"or pass --id-column; the file has: {', '.join(columns)}",
            )

    rows: list[tuple[str, dict[str, Any]]] = []
    first_seen: dict[str, SourceRecord] = {}
    for record in records:
        if explicit is not None:
            key, field = _explicit_id(path, record, explicit), explicit
        else:
            key, field = _derived_id(path, record, website, name)
        if key in first_seen:
            raise LeadFileError(
                path,
                f"duplicate id {key!r}: {first_seen[key].location} has the same id; "
                "give each lead a distinct value or pass --id-column",
                location=record.location,
                field=field,
            )
        first_seen[key] = record
        fields = {k: v for k, v in record.fields.items() if k != ID_COLUMN}
        rows.append((key, fields))
    return rows


def _derived_id(
    path: Path, record: SourceRecord, website: str | None, name: str | None
) -> tuple[str, str]:
    if website is not None:
        key = normalise_domain(record.fields.get(website))
        if key:
            return key, website
    if name is not None:
        key = normalise_name(record.fields.get(name))
        if key:
            return key, name
    looked = " or ".join(repr(c) for c in (website, name) if c is not None)
    raise LeadFileError(
        path,
        f"no usable website or name to build an id from (looked in {looked})",
        location=record.location,
        field=website or name,
    )
