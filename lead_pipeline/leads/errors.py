"""The one error a bad lead file raises.

Every problem with a file a user hands us is reported the same way: which file,
where in it (a line for text formats, a record for JSON arrays and Parquet) and
which field, so the user can open the file and fix it without reading a traceback.
"""

from __future__ import annotations

from pathlib import Path


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
        self.path = str(path)
        self.problem = problem
        self.location = location
        self.field = field
        where = [self.path]
        if location:
            where.append(location)
        if field is not None:
            where.append(f"field {field!r}")
        super().__init__(f"{', '.join(where)}: {problem}")
