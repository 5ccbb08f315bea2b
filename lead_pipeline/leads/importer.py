"""Lead file -> lead store: read, validate and key the whole file, then write it at once.

Everything that can go wrong with the file is found before the store is touched,
and the store writes the rows in one transaction, so a bad file leaves the
database exactly as it was.

What an import decides is stored with the list and reused by the next one:
the field mapping (which column each canonical lead field reads) and the id
rule (the website's domain else the name, or one ``--id-column``). A later
import under another id rule would give every row a new id and double the
list, so it is refused.

Columns that are the pipeline's own (outputs of a workflow, and the flattened
``founder_1_name`` columns of an export) follow one rule: in our own export
(a file with a ``_id`` column) they are the pipeline's results and are left
out, since the store already has them; in any other file they are lead data
and are kept as ``imported_<name>``, so they never hide what a workflow decides.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lead_pipeline.leads.errors import LeadFileError, display_path
from lead_pipeline.leads.exporter import csv_cell
from lead_pipeline.leads.fields import FieldMapping, FieldMappingError, guess_mapping
from lead_pipeline.leads.ids import DUPLICATE_RULES, file_columns, key_rows
from lead_pipeline.leads.outputs import declared_outputs, singular
from lead_pipeline.leads.readers import SourceRecord, detect_format, read_records
from lead_pipeline.leads.validate import validate_records
from lead_pipeline.store import (
    ID_COLUMN,
    IMPORTED_PREFIX,
    ImportReport,
    LeadListInfo,
    LeadStore,
    check_name,
    imported_name,
)

DERIVED = "derived"
_COLUMN_RULE = "column:"


def describe_id_rule(rule: str | None) -> str:
    if rule is None:
        return "not recorded yet"
    if rule.startswith(_COLUMN_RULE):
        return f"column {rule.removeprefix(_COLUMN_RULE)!r}"
    return "the website's domain, else the name"


@dataclass
class ImportPlan:
    """A file read, checked and keyed: what the store will be asked to write."""

    rows: list[tuple[str, dict[str, Any]]]
    mapping: FieldMapping
    id_rule: str
    notes: list[str] = field(default_factory=list)


def load_file(
    path: str | Path, *, id_column: str | None = None, fmt: str | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """The file's rows as ``(_id, base fields)``, in file order, fully validated."""
    return plan_import(Path(path), id_column=id_column, fmt=fmt).rows


def plan_import(
    path: Path,
    *,
    id_column: str | None = None,
    fmt: str | None = None,
    delimiter: str | None = None,
    field_map: Mapping[str, str | None] | None = None,
    on_duplicate: str = "error",
    existing: LeadListInfo | None = None,
    stored_rows: Mapping[str, dict[str, Any]] | None = None,
    outputs: Mapping[str, bool] | None = None,
) -> ImportPlan:
    """Everything an import decides, without writing anything.

    ``existing`` is the list being re-imported (its stored mapping and id
    rule), ``stored_rows`` its rows by id, ``outputs`` the pipeline's output
    columns (name -> whether it is an array).
    """
    if on_duplicate not in DUPLICATE_RULES:
        raise LeadFileError(path, f"--on-duplicate must be one of {', '.join(DUPLICATE_RULES)}")
    kind = detect_format(path, fmt)
    records = read_records(path, fmt, delimiter=delimiter)
    validate_records(path, records)
    notes: list[str] = []
    columns = file_columns(records)
    is_export = ID_COLUMN in columns
    records, columns = _pipeline_columns(
        records, columns, dict(outputs or {}), is_export, stored_rows or {}, notes
    )
    mapping = choose_mapping(path, columns, existing, field_map)
    id_rule, id_source = _id_rule(path, columns, existing, id_column, is_export)
    keyed = key_rows(
        path,
        records,
        id_source,
        website=mapping.columns.get("website"),
        name=mapping.columns.get("name"),
        on_duplicate=on_duplicate,
    )
    if keyed.collapsed:
        notes.append(f"{keyed.collapsed} exact duplicate row(s) collapsed into one")
    if keyed.conflicts:
        notes.append(
            f"{keyed.conflicts} row(s) shared an id with other values; "
            f"kept the {on_duplicate} of each (--on-duplicate {on_duplicate})"
        )
    rows = keyed.rows
    if stored_rows:
        typed = kind not in ("csv", "tsv", "parquet")
        rows = [(key, _restore(fields, stored_rows.get(key), typed)) for key, fields in rows]
    return ImportPlan(rows=rows, mapping=mapping, id_rule=id_rule, notes=notes)


def import_file(
    store: LeadStore,
    path: str | Path,
    name: str,
    *,
    id_column: str | None = None,
    prune: bool = False,
    fmt: str | None = None,
    delimiter: str | None = None,
    field_map: Mapping[str, str | None] | None = None,
    on_duplicate: str = "error",
) -> ImportReport:
    """Create or update lead list ``name`` from a file; re-importing is idempotent."""
    check_name(name)
    path = Path(path)
    existing = store.list_info(name)
    stored_rows = {r.row_id: r.fields for r in store.rows(name)} if existing else {}
    outputs = {column: spec.type == "array" for column, spec in declared_outputs().items()}
    if existing:
        for column in store.output_columns(name):
            outputs.setdefault(column, False)
    plan = plan_import(
        path,
        id_column=id_column,
        fmt=fmt,
        delimiter=delimiter,
        field_map=field_map,
        on_duplicate=on_duplicate,
        existing=existing,
        stored_rows=stored_rows,
        outputs=outputs,
    )
    report = store.import_rows(
        name,
        plan.rows,
        source=display_path(path.resolve()),
        prune=prune,
        field_map=plan.mapping.to_json(),
        id_rule=plan.id_rule,
    )
    report.notes = plan.notes
    return report


def _pipeline_columns(
    records: list[SourceRecord],
    columns: list[str],
    outputs: dict[str, bool],
    is_export: bool,
    stored_rows: Mapping[str, dict[str, Any]],
    notes: list[str],
) -> tuple[list[SourceRecord], list[str]]:
    """Leave out (our export) or rename (any other file) the columns the pipeline writes."""
    flattened = [
        re.compile(rf"^{re.escape(singular(c))}_\d+_\w+$")
        for c, is_array in outputs.items()
        if is_array
    ]

    def is_pipeline(column: str) -> bool:
        return column in outputs or any(p.match(column) for p in flattened)

    def is_evidence(column: str) -> bool:
        """``<output>_source`` / ``<output>_quote``: what ``export --evidence`` adds."""
        stem, _, suffix = column.rpartition("_")
        return suffix in ("source", "quote") and stem in outputs

    stored_keys = {k for fields in stored_rows.values() for k in fields}
    renames: dict[str, str | None] = {}
    if is_export:
        for column in columns:
            if column == ID_COLUMN:
                continue
            if is_pipeline(column) or column.startswith("_") or is_evidence(column):
                renames[column] = None
            elif column.startswith(IMPORTED_PREFIX) and column not in stored_keys:
                # The wide view showed a stored column beside an output of its name.
                original = column.removeprefix(IMPORTED_PREFIX)
                if original in stored_keys:
                    renames[column] = original
    else:
        taken = set(outputs) | set(columns)
        for column in columns:
            if is_pipeline(column):
                renames[column] = imported_name(column, taken)
                taken.add(renames[column])  # type: ignore[arg-type]
    if not renames:
        return records, columns
    left_out = [c for c, new in renames.items() if new is None]
    renamed = {c: new for c, new in renames.items() if new is not None}
    if left_out:
        notes.append(
            f"left out {len(left_out)} column(s) the pipeline writes ({', '.join(left_out)}): "
            "this file is an export; the results stay in the store"
        )
    if renamed and not is_export:
        pairs = ", ".join(f"{old} -> {new}" for old, new in renamed.items())
        notes.append(f"kept imported columns named like workflow outputs as {pairs}")
    changed = [
        SourceRecord(
            r.location,
            {new: v for k, v in r.fields.items() if (new := renames.get(k, k)) is not None},
        )
        for r in records
    ]
    return changed, [renames.get(c, c) for c in columns if renames.get(c, c) is not None]  # type: ignore[misc]


def choose_mapping(
    path: Path,
    columns: list[str],
    existing: LeadListInfo | None,
    field_map: Mapping[str, str | None] | None,
) -> FieldMapping:
    """The stored ``--map`` choices, then this import's, over guesses from the file's columns."""
    kept = FieldMapping.from_json(existing.field_map if existing else None).overrides()
    given = dict(field_map or {})
    for name, column in kept.items():
        if name not in given and column is not None and column not in columns:
            raise LeadFileError(
                path,
                f"the list maps {name} to column {column!r} (--map at an earlier import), "
                f"and this file has no such column; pass --map {name}=COLUMN, "
                f"or --map {name}= to map it to nothing",
                field=column,
            )
    try:
        return guess_mapping(columns, {**kept, **given})
    except FieldMappingError as exc:
        raise LeadFileError(path, str(exc)) from None


def _id_rule(
    path: Path,
    columns: list[str],
    existing: LeadListInfo | None,
    id_column: str | None,
    is_export: bool,
) -> tuple[str, str | None]:
    """(the rule to store, the column ids come from or None for derived ids)."""
    stored = existing.id_rule if existing else None
    if id_column is not None:
        wanted = _COLUMN_RULE + id_column
        if stored is not None and stored != wanted:
            raise LeadFileError(
                path,
                f"lead list {existing.name!r} takes its ids from {describe_id_rule(stored)}; "  # type: ignore[union-attr]
                f"--id-column {id_column!r} would give every row a new id and double the "
                "list. Import without --id-column to keep its ids, or into a new list",
                field=id_column,
            )
        return wanted, id_column
    if is_export:
        return stored or _COLUMN_RULE + ID_COLUMN, ID_COLUMN
    if stored is not None and stored.startswith(_COLUMN_RULE):
        column = stored.removeprefix(_COLUMN_RULE)
        if column not in columns:
            raise LeadFileError(
                path,
                f"lead list {existing.name!r} takes its ids from column {column!r}, "  # type: ignore[union-attr]
                "which this file does not have; ids from anything else would double the list",
                field=column,
            )
        return stored, column
    return DERIVED, None


def _restore(fields: dict[str, Any], stored: dict[str, Any] | None, typed: bool) -> dict[str, Any]:
    """Give back the stored value where the file holds it as our export wrote it.

    An export writes every column for every row, so an empty cell where the
    stored row has no such field is no value. CSV holds only text and our
    Parquet writes mixed columns as JSON text, so an exported ``12`` returns
    as ``"12"`` and a neutralised ``=x`` as ``'=x``: where the text is exactly
    what the export writes for the stored value, the value is unchanged.
    Re-importing an export updates nothing, and numbers stay numbers.
    """
    if not stored:
        return fields
    restored = dict(fields)
    for key, value in fields.items():
        if key not in stored:
            if value is None:
                del restored[key]
            continue
        if value == stored[key] or typed:
            continue
        before = stored[key]
        if (value is None and before == "") or (
            isinstance(value, str)
            and (
                csv_cell(before) == value
                or (not isinstance(before, str) and json.dumps(before, ensure_ascii=False) == value)
            )
        ):
            restored[key] = before
    return restored
