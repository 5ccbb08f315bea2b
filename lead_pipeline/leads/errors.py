"""The one error a bad lead file raises.

Every problem with a file a user hands us is reported the same way: which file,
where in it (a line for text formats, a record for JSON arrays and Parquet) and
which field, so the user can open the file and fix it without reading a traceback.
"""

from __future__ import annotations

import os
from pathlib import Path


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
