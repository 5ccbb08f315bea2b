"""The wide view out to CSV, JSONL or Parquet.

CSV is what people open in spreadsheets, and a spreadsheet runs a cell that
starts with ``=``, ``+``, ``-`` or ``@`` as a formula: a scraped company
description like ``=HYPERLINK(...)`` would run on the reader's machine. Such
cells are prefixed with a single quote, the OWASP-recommended neutralisation.
Files are written unnamed and moved into place when complete (see
:mod:`lead_pipeline.leads.atomic`), so a failed or killed export leaves neither
half a file nor a hidden temporary file behind.

What the export holds (see :class:`ExportOptions`): every imported column and
every output, except outputs declared ``preview: false`` (raw search results)
unless asked for. For people and CRMs, arrays of objects such as ``founders``
can be flattened into ``founder_1_name``, ``founder_1_title``, ... or exploded
into one row per item beside the company's id, name and website. Text that
cannot be written as UTF-8 (a lone surrogate an API returned) is written as
U+FFFD, so no cell can block an export.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from lead_pipeline.leads.atomic import atomic_write
from lead_pipeline.leads.outputs import declared_outputs, singular
from lead_pipeline.leads.validate import SURROGATE, has_surrogate
from lead_pipeline.providers.redact import scrub_with, secrets_index
from lead_pipeline.settings import get_settings
from lead_pipeline.store import ID_COLUMN, check_name

if TYPE_CHECKING:  # pandas loads with the first frame, not with the CLI
    import pandas as pd

    from lead_pipeline.store import LeadStore

EXPORT_FORMATS = ("csv", "jsonl", "parquet")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def default_export_path(name: str, fmt: str) -> Path:
    return get_settings().data_dir / "exports" / f"{check_name(name)}.{fmt}"


DEFAULT_FLATTEN_MAX = 5


ERRORS_COLUMN = "_errors"


def _row_errors(store: LeadStore, name: str, frame: pd.DataFrame) -> list[str | None]:
    """Why each row has no result: its failed nodes, oldest first, or None.

    Scrubbed again on the way out: a store written before the store scrubbed every
    write may still hold a key in an error."""
    by_row: dict[str, list[str]] = {}
    known = secrets_index()
    for failure in reversed(store.failures(name)):
        by_row.setdefault(failure.row_id, []).append(
            scrub_with(f"{failure.workflow}.{failure.node}: {failure.error}", known)
        )
    return ["; ".join(by_row[row]) if row in by_row else None for row in frame[ID_COLUMN]]


EVIDENCE_COLUMN = "_evidence"


def _evidence(store: LeadStore, name: str, frame: pd.DataFrame, fmt: str) -> dict[str, list[Any]]:
    """The columns ``--evidence`` adds: ``<field>_source`` and ``<field>_quote`` per field with
    evidence (CSV), or one ``_evidence`` object per row (JSONL, Parquet). A refused answer
    has no source and no quote in CSV, and its status and reason in the object."""
    by_row = store.evidence(name)
    ids = list(frame[ID_COLUMN])
    if fmt != "csv":
        return {EVIDENCE_COLUMN: [by_row.get(row) or None for row in ids]}
    fields: dict[str, None] = {}
    for found in by_row.values():
        fields.update(dict.fromkeys(found))
    columns: dict[str, list[Any]] = {}
    for name_ in fields:
        kept = [(by_row.get(row) or {}).get(name_) or {} for row in ids]
        ok = [e if e.get("status") == "ok" else {} for e in kept]
        columns[f"{name_}_source"] = [e.get("url") for e in ok]
        columns[f"{name_}_quote"] = [e.get("quote") for e in ok]
    return columns


class ExportError(ValueError):
    """An export option that does not fit the list (an unknown ``--explode`` column)."""


@dataclass(frozen=True)
class ExportOptions:
    """How the wide view is shaped on its way out.

    ``all_outputs`` keeps outputs declared ``preview: false``; ``flatten``
    writes each array of objects as numbered columns (at most ``flatten_max``
    items); ``explode`` writes one row per item of that array column instead
    of one row per lead; ``excel`` writes CSV with a UTF-8 byte-order mark,
    which Excel needs to read accents right.
    """

    all_outputs: bool = False
    flatten: bool = False
    flatten_max: int = DEFAULT_FLATTEN_MAX
    explode: str | None = None
    excel: bool = False
    errors: bool = False  # an _errors column: each failed node as "workflow.node: error"
    evidence: bool = False  # research answers' sources: <field>_source/_quote, or _evidence


@dataclass
class ExportResult:
    path: Path
    rows: int
    notes: list[str] = field(default_factory=list)


def export_list(
    store: LeadStore,
    name: str,
    fmt: str,
    out: str | Path | None = None,
    options: ExportOptions | None = None,
) -> Path:
    """Write lead list ``name``'s wide view; returns the file written."""
    return export_lead_list(store, name, fmt, out, options).path


def export_lead_list(
    store: LeadStore,
    name: str,
    fmt: str,
    out: str | Path | None = None,
    options: ExportOptions | None = None,
) -> ExportResult:
    """Write lead list ``name`` shaped by ``options``; says what was written and left out."""
    # pandas costs 1.8 s of CPU beyond what ``lead-pipeline --help`` (which imports this
    # module) loads, measured at load 20 on 2 cores: only an export pays it.
    import pandas as pd

    options = options or ExportOptions()
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")
    if options.excel and fmt != "csv":
        raise ExportError("--excel writes CSV; use it with --format csv")
    frame = store.wide_frame(name)
    if options.errors:
        frame[ERRORS_COLUMN] = pd.Series(
            _row_errors(store, name, frame), index=frame.index, dtype=object
        )
    if options.evidence:
        for column, values in _evidence(store, name, frame, fmt).items():
            frame[column] = pd.Series(values, index=frame.index, dtype=object)
    columns = [str(c) for c in frame.columns]
    records = [
        dict(zip(columns, row, strict=True)) for row in frame.itertuples(index=False, name=None)
    ]
    notes: list[str] = []
    declared = declared_outputs()
    hidden = [c for c in columns if c in declared and not declared[c].preview]
    if hidden and not options.all_outputs:
        columns = [c for c in columns if c not in hidden]
        notes.append(f"left out {', '.join(hidden)} (preview: false; --all-outputs keeps them)")
    if options.explode is not None:
        columns, records = _explode(store, name, options.explode, columns, records)
    elif options.flatten:
        columns, records = _flatten(columns, records, options.flatten_max, notes)
    shaped = pd.DataFrame(
        [{clean_text(c): clean(r.get(c)) for c in columns} for r in records],
        columns=[clean_text(c) for c in columns],
        dtype=object,
    )
    target = Path(out) if out is not None else default_export_path(name, fmt)
    writer = _WRITERS[fmt]
    encoding = "utf-8-sig" if options.excel else "utf-8"
    with atomic_write(target, binary=fmt == "parquet", encoding=encoding) as handle:
        writer(shaped, handle)
    return ExportResult(path=target, rows=len(shaped), notes=notes)


def clean_text(text: str) -> str:
    """Lone surrogates as U+FFFD: text that cannot be UTF-8 must not block an export."""
    return SURROGATE.sub("\ufffd", text) if has_surrogate(text) else text


def clean(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [clean(v) for v in value]
    if isinstance(value, dict):
        return {clean_text(str(k)): clean(v) for k, v in value.items()}
    return value


def _object_arrays(columns: list[str], records: list[dict[str, Any]]) -> list[str]:
    """Columns whose values are lists of objects (``founders``), in column order."""
    found = []
    for column in columns:
        values = [r.get(column) for r in records]
        lists = [v for v in values if isinstance(v, list) and v]
        if (
            lists
            and all(isinstance(item, dict) for v in lists for item in v)
            and all(v is None or isinstance(v, list) for v in values)
        ):
            found.append(column)
    return found


def _item_keys(records: list[dict[str, Any]], column: str) -> list[str]:
    keys: dict[str, None] = {}
    for record in records:
        for item in record.get(column) or []:
            for key in item:
                keys.setdefault(str(key), None)
    return list(keys)


def _flatten(
    columns: list[str], records: list[dict[str, Any]], cap: int, notes: list[str]
) -> tuple[list[str], list[dict[str, Any]]]:
    """``founders`` -> ``founder_1_name``, ``founder_1_title``, ... up to ``cap`` items."""
    arrays = set(_object_arrays(columns, records))
    out_columns: list[str] = []
    for column in columns:
        if column not in arrays:
            out_columns.append(column)
            continue
        keys = _item_keys(records, column)
        longest = max(len(r.get(column) or []) for r in records)
        stem = singular(column)
        count = min(longest, cap)
        out_columns += [f"{stem}_{i}_{key}" for i in range(1, count + 1) for key in keys]
        over = sum(1 for r in records if len(r.get(column) or []) > cap)
        if over:
            notes.append(
                f"{over} row(s) have more than {cap} {column}; only the first {cap} are "
                f"written (--flatten-max N for more, --explode {column} for all)"
            )
        for record in records:
            items = record.get(column) or []
            for i in range(1, count + 1):
                item = items[i - 1] if i <= len(items) else {}
                for key in keys:
                    record[f"{stem}_{i}_{key}"] = item.get(key)
    return out_columns, records


def _explode(
    store: LeadStore,
    name: str,
    column: str,
    columns: list[str],
    records: list[dict[str, Any]],
) -> tuple[list[str], list[dict[str, Any]]]:
    """One row per item of ``column``, beside the company's id, name and website."""
    if column not in _object_arrays(columns, records):
        arrays = ", ".join(_object_arrays(columns, records)) or "none in this list"
        raise ExportError(
            f"--explode {column}: not a column of lists of objects "
            f"(columns that can be exploded: {arrays})"
        )
    values = store.row_values(name)
    keys = _item_keys(records, column)
    out_columns = ["company_id", "company_name", "company_website", *keys]
    rows = []
    for record in records:
        company = values.get(record[ID_COLUMN], {})
        for item in record.get(column) or []:
            rows.append(
                {
                    "company_id": record[ID_COLUMN],
                    "company_name": company.get("name"),
                    "company_website": company.get("website"),
                    **{key: item.get(key) for key in keys},
                }
            )
    return out_columns, rows


def neutralise(text: str) -> str:
    """Make a CSV cell inert in spreadsheets without losing what it says."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        # A real number, not text: a spreadsheet shows -5 as a number, nothing runs.
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, list | dict):
        return neutralise(json.dumps(value, ensure_ascii=False))
    return neutralise(str(value))


def _write_csv(frame: pd.DataFrame, handle: IO[Any]) -> None:
    writer = csv.writer(handle)
    writer.writerow([neutralise(str(c)) for c in frame.columns])
    for row in frame.itertuples(index=False, name=None):
        writer.writerow([csv_cell(v) for v in row])


def _write_jsonl(frame: pd.DataFrame, handle: IO[Any]) -> None:
    columns = list(frame.columns)
    for row in frame.itertuples(index=False, name=None):
        record = dict(zip(columns, row, strict=True))
        handle.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")


def _has_dict(value: Any) -> bool:
    if isinstance(value, dict):
        return True
    return isinstance(value, list) and any(_has_dict(v) for v in value)


def _arrow_column(values: list[Any]) -> Any:
    """A typed column where the values agree on a type, else JSON text.

    Objects become JSON text rather than structs: structs would give every row
    every key seen in any row, which changes the data on the way back in.
    """
    import pyarrow as pa  # 0.3 s of CPU beyond ``--help``: only a Parquet export pays it

    if not any(_has_dict(v) for v in values):
        try:
            return pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
            pass
    return pa.array(
        [
            v if v is None or isinstance(v, str) else json.dumps(v, ensure_ascii=False)
            for v in values
        ],
        type=pa.string(),
    )


def _write_parquet(frame: pd.DataFrame, handle: IO[Any]) -> None:
    import pyarrow as pa  # 0.3 s of CPU beyond ``--help``: only a Parquet export pays it
    import pyarrow.parquet as pq

    columns = {str(c): _arrow_column(frame[c].tolist()) for c in frame.columns}
    pq.write_table(pa.table(columns), handle)


_WRITERS: dict[str, Callable[[pd.DataFrame, IO[Any]], None]] = {
    "csv": _write_csv,
    "jsonl": _write_jsonl,
    "parquet": _write_parquet,
}
