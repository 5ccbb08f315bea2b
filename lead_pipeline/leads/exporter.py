"""The wide view out to CSV, JSONL or Parquet.

CSV is what people open in spreadsheets, and a spreadsheet runs a cell that
starts with ``=``, ``+``, ``-`` or ``@`` as a formula: a scraped company
description like ``=HYPERLINK(...)`` would run on the reader's machine. Such
cells are prefixed with a single quote, the OWASP-recommended neutralisation.
Files are written to a temporary name and moved into place, so a failed export
never leaves half a file behind.
"""

from __future__ import annotations

import csv
import json
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import pandas as pd

from lead_pipeline.settings import get_settings
from lead_pipeline.store import LeadStore, check_name

EXPORT_FORMATS = ("csv", "jsonl", "parquet")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def default_export_path(name: str, fmt: str) -> Path:
    return get_settings().data_dir / "exports" / f"{check_name(name)}.{fmt}"


def export_list(store: LeadStore, name: str, fmt: str, out: str | Path | None = None) -> Path:
    """Write lead list ``name``'s wide view; returns the file written."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")
    frame = store.wide_frame(name)
    target = Path(out) if out is not None else default_export_path(name, fmt)
    writer = _WRITERS[fmt]
    with _atomic(target, binary=fmt == "parquet") as handle:
        writer(frame, handle)
    return target


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


@contextmanager
def _atomic(target: Path, *, binary: bool) -> Iterator[IO[Any]]:
    target.parent.mkdir(parents=True, exist_ok=True)
    # A unique name opened with "x" (not mkstemp) so the file gets the user's
    # usual permissions rather than 0600.
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        if binary:
            with tmp.open("xb") as handle:
                yield handle
        else:
            with tmp.open("x", encoding="utf-8", newline="") as handle:
                yield handle
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


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
    import pyarrow as pa

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
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = {str(c): _arrow_column(frame[c].tolist()) for c in frame.columns}
    pq.write_table(pa.table(columns), handle)


_WRITERS: dict[str, Callable[[pd.DataFrame, IO[Any]], None]] = {
    "csv": _write_csv,
    "jsonl": _write_jsonl,
    "parquet": _write_parquet,
}
