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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lead_pipeline.domains import domain_name
from lead_pipeline.leads.errors import LeadFileError, describe_columns
from lead_pipeline.leads.fields import FIELD_ALIASES, column_key
from lead_pipeline.leads.readers import SourceRecord
from lead_pipeline.store import ID_COLUMN

# Looked up in this order; the one list of aliases is lead_pipeline.leads.fields.
WEBSITE_COLUMNS = FIELD_ALIASES["website"]
NAME_COLUMNS = FIELD_ALIASES["name"]
DUPLICATE_RULES = ("error", "first", "last")

MAX_ID_CHARS = 160  # the store's row_id column width


def _fit(key: str) -> str:
    """Keep long keys unique and within the column width."""
    if len(key) <= MAX_ID_CHARS:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return f"{key[: MAX_ID_CHARS - 17]}-{digest}"


def fold_text(text: str) -> str:
    """NFC with full- and half-width forms folded: full-width ``ACME1`` and ``ACME1`` are one id.

    Only width is folded (not all of NFKC), so ``²`` or ``ﬁ`` in an id stay
    what the user wrote.
    """
    if text.isascii():
        return text
    out = []
    for ch in text:
        decomposition = unicodedata.decomposition(ch)
        if decomposition.startswith(("<wide>", "<narrow>")):
            out.append("".join(chr(int(code, 16)) for code in decomposition.split()[1:]))
        else:
            out.append(ch)
    return unicodedata.normalize("NFC", "".join(out))


def normalise_domain(value: Any) -> str | None:
    """``https://www.Acme.com/about?x=1`` -> ``acme.com``; None when it is no host name."""
    host = domain_name(fold_text(value) if isinstance(value, str) else value)
    return _fit(host) if host else None


def normalise_name(value: Any) -> str | None:
    """``"Acme, Inc."`` -> ``acme-inc``; accents folded, other scripts kept."""
    if value is None or isinstance(value, bool | list | dict):
        return None
    text = unicodedata.normalize("NFKD", str(value))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    slug = re.sub(r"[\W_]+", "-", text).strip("-")
    return _fit(slug) if slug else None


def find_column(columns: Sequence[str], candidates: Sequence[str]) -> str | None:
    """The first of ``candidates`` the file has, matched as lead fields are."""
    by_key: dict[str, str] = {}
    for column in columns:
        by_key.setdefault(column_key(column), column)
    for candidate in candidates:
        found = by_key.get(column_key(candidate))
        if found is not None:
            return found
    return None


def file_columns(records: Sequence[SourceRecord]) -> list[str]:
    """Every field name of the records, in the order they first appear."""
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
    text = "" if value is None else fold_text(str(value)).strip()
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


@dataclass
class KeyedRows:
    """A file's rows under their ids, and what happened to rows that shared an id."""

    rows: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    collapsed: int = 0  # exact copies of an earlier row, dropped
    conflicts: int = 0  # same id, other values, settled by --on-duplicate first|last
    id_column: str | None = None  # the column the ids came from, None when derived


def assign_ids(
    path: Path, records: Sequence[SourceRecord], id_column: str | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """``(_id, base fields)`` per record; two different records with one id are an error."""
    return key_rows(path, records, id_column).rows


def key_rows(
    path: Path,
    records: Sequence[SourceRecord],
    id_column: str | None = None,
    *,
    website: str | None = None,
    name: str | None = None,
    on_duplicate: str = "error",
) -> KeyedRows:
    """Give every record its id: ``id_column``, else a ``_id`` column, else website then name.

    A ``_id`` column (as in our own exports) is the id when no ``id_column`` is
    given, and is never kept as a base field: the wide view owns that name.
    ``website`` and ``name`` are the columns the field mapping chose; without
    them the aliases are looked up. A record that repeats an earlier one
    exactly is dropped and counted; one with the same id and other values is
    refused naming both places, unless ``on_duplicate`` is ``first`` or ``last``.
    """
    if on_duplicate not in DUPLICATE_RULES:
        raise ValueError(f"on_duplicate must be one of {', '.join(DUPLICATE_RULES)}")
    columns = file_columns(records)
    if id_column is not None and id_column not in columns:
        raise LeadFileError(
            path,
            f"--id-column {id_column!r} is not a column of the file "
            f"(columns: {describe_columns(columns)})",
            field=id_column,
        )
    explicit = id_column or (ID_COLUMN if ID_COLUMN in columns else None)
    if explicit is None:
        website = website or find_column(columns, WEBSITE_COLUMNS)
        name = name or find_column(columns, NAME_COLUMNS)
        if website is None and name is None:
            raise LeadFileError(
                path,
                "no usable name or website column: expected a website column "
                f"({', '.join(WEBSITE_COLUMNS)}) or a name column ({', '.join(NAME_COLUMNS)}), "
                f"or pass --map website=COLUMN, --map name=COLUMN or --id-column; "
                f"the file has: {describe_columns(columns)}",
            )

    keyed = KeyedRows(id_column=explicit)
    first_seen: dict[str, tuple[SourceRecord, int]] = {}
    for record in records:
        if explicit is not None:
            key, column = _explicit_id(path, record, explicit), explicit
        else:
            key, column = _derived_id(path, record, website, name)
        fields = {k: v for k, v in record.fields.items() if k != ID_COLUMN}
        if key in first_seen:
            earlier, index = first_seen[key]
            if keyed.rows[index][1] == fields:
                keyed.collapsed += 1
                continue
            if on_duplicate == "error":
                raise LeadFileError(
                    path,
                    f"duplicate id {key!r}: {earlier.location} has the same id with other "
                    "values; give each lead a distinct value, pass --id-column, or "
                    "--on-duplicate first|last to keep one of them",
                    location=record.location,
                    field=column,
                )
            keyed.conflicts += 1
            if on_duplicate == "last":
                keyed.rows[index] = (key, fields)
            continue
        first_seen[key] = (record, len(keyed.rows))
        keyed.rows.append((key, fields))
    return keyed


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
