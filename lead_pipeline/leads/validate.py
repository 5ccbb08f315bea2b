"""Checks every record must pass before anything is written to the store."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lead_pipeline.leads.errors import LeadFileError
from lead_pipeline.leads.opener import MAX_CELL_BYTES
from lead_pipeline.leads.readers import MAX_NESTING, SourceRecord

MAX_FIELD_NAME_CHARS = 200
SURROGATE = re.compile("[\ud800-\udfff]")


def has_surrogate(text: str) -> bool:
    """A lone surrogate (JSON's ``"\\ud800"``): text that cannot be written as UTF-8."""
    return SURROGATE.search(text) is not None


def value_problem(value: Any) -> str | None:
    """Why a (possibly nested) value cannot be stored and exported, or None.

    Walked with a stack, not recursion: the value may be nested as deep as the
    reader allowed.
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if has_surrogate(item):
                return "holds a lone surrogate (an escape like \\ud800 that is no character)"
            continue
        if isinstance(item, dict | list):
            if depth >= MAX_NESTING:
                return f"nests deeper than {MAX_NESTING} levels"
            if isinstance(item, dict):
                stack.extend((k, depth) for k in item)
                stack.extend((v, depth + 1) for v in item.values())
            else:
                stack.extend((v, depth + 1) for v in item)
    return None


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
            if has_surrogate(name):
                raise LeadFileError(
                    path,
                    "the field name holds a lone surrogate (an escape like \\ud800 "
                    "that is no character)",
                    location=record.location,
                    field=name,
                )
            if len(name) > MAX_FIELD_NAME_CHARS:
                raise LeadFileError(
                    path,
                    f"field name is {len(name)} characters long; "
                    f"the limit is {MAX_FIELD_NAME_CHARS}",
                    location=record.location,
                    field=name[:40] + "...",
                )
            problem = value_problem(value)
            if problem is not None:
                raise LeadFileError(path, problem, location=record.location, field=name)
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
