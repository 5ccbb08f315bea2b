"""The one error a bad lead file raises.

Every problem with a file a user hands us is reported the same way: which file,
where in it (a line for text formats, a record for JSON arrays and Parquet) and
which field, so the user can open the file and fix it without reading a traceback.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

# What a header cell looks like: words, spaces and a little punctuation, short.
_COLUMN_NAME = re.compile(r"^\w[\w .,()/#&'+-]{0,63}$")
_SHOWN_COLUMNS = 30


def display_path(path: str | Path) -> str:
    """A path as text that can always be printed and stored.

    A file name that is not valid UTF-8 reaches Python with surrogate escapes,
    which no terminal or database accepts; its bad bytes are shown as ``\\xff``.
    """
    text = os.fsdecode(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(text).decode("utf-8", errors="backslashreplace")
    return text


def looks_like_column(name: str) -> bool:
    """Whether ``name`` is shaped like a header cell, so an error may quote it."""
    return _COLUMN_NAME.match(name) is not None


def describe_columns(columns: Sequence[str]) -> str:
    """A file's columns for an error message, quoting only what looks like a column name.

    A file that is no lead list (a link to ``/etc/shadow``, a key file) has its
    first line where the header should be, and quoting it would print what the
    file holds. Names shaped like headers are listed; the rest are only counted.
    """
    shown = [c for c in columns if looks_like_column(c)]
    other = len(columns) - len(shown)
    text = ", ".join(shown[:_SHOWN_COLUMNS])
    if len(shown) > _SHOWN_COLUMNS:
        text += f" and {len(shown) - _SHOWN_COLUMNS} more"
    if other:
        kind = "column" if other == 1 else "columns"
        unshown = f"{other} {kind} whose first line does not look like a column name"
        text = f"{text} and {unshown}" if text else unshown
    return text


class LeadFileError(ValueError):
    """A lead file that cannot be imported as it is; nothing was written."""

    def __init__(
        self,
        path: str | Path,
        problem: str,
        *,
        location: str | None = None,
        field: str | None = None,
    ) -> None:
        self.path = display_path(path)
        self.problem = problem
        self.location = location
        self.field = field
        where = [self.path]
        if location:
            where.append(location)
        if field is not None:
            where.append(f"field {field!r}")
        super().__init__(f"{', '.join(where)}: {problem}")
