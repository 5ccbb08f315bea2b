"""Checks every record must pass before anything is written to the store."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lead_pipeline.leads.errors import LeadFileError
from lead_pipeline.leads.readers import SourceRecord

# A lead's cell is a name, a URL, a description: far below this. A bigger cell is
# almost always a broken export (a whole page pasted into one cell) and would
# bloat every prompt and export it reaches.
MAX_CELL_BYTES = 100_000
MAX_FIELD_NAME_CHARS = 200


def cell_size(value: Any) -> int:
    """Bytes the value takes as stored: UTF-8 text, or its JSON for nested values.

    Raises ValueError for numbers JSON cannot hold (``1e400`` parses as infinity),
    which the databases would refuse later, mid-transaction and without a location.
    """
    if value is None or isinstance(value, bool | int):
        return 0
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"the number {value} is out of range")
        return 0
    if isinstance(value, str):
        # Cheap upper bound first: most cells are far below the cap.
        return len(value) if len(value) * 4 <= MAX_CELL_BYTES else len(value.encode("utf-8"))
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except ValueError:
        raise ValueError("a number inside the value is out of range") from None
    return len(text.encode("utf-8"))


def validate_records(path: Path, records: Sequence[SourceRecord]) -> None:
    """Refuse oversize cells and unusable field names, naming the first offender."""
    for record in records:
        for name, value in record.fields.items():
            if not isinstance(name, str) or not name.strip():
                raise LeadFileError(
                    path, "a field has an empty name", location=record.location, field=name
                )
            if len(name) > MAX_FIELD_NAME_CHARS:
                raise LeadFileError(
                    path,
                    f"field name is {len(name)} characters long; "
                    f"the limit is {MAX_FIELD_NAME_CHARS}",
                    location=record.location,
                    field=name[:40] + "...",
                )
            try:
                size = cell_size(value)
            except ValueError as exc:
                raise LeadFileError(path, str(exc), location=record.location, field=name) from None
            if size > MAX_CELL_BYTES:
                raise LeadFileError(
                    path,
                    f"cell holds {size:,} bytes; the limit is {MAX_CELL_BYTES:,} bytes "
                    f"({MAX_CELL_BYTES // 1000} KB)",
                    location=record.location,
                    field=name,
                )
