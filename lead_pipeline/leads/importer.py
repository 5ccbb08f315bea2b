"""Lead file -> lead store: read, validate and key the whole file, then write it at once.

Everything that can go wrong with the file is found before the store is touched,
and the store writes the rows in one transaction, so a bad file leaves the
database exactly as it was.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lead_pipeline.leads.ids import assign_ids
from lead_pipeline.leads.readers import read_records
from lead_pipeline.leads.validate import validate_records
from lead_pipeline.store import ImportReport, LeadStore, check_name


def load_file(
    path: str | Path, *, id_column: str | None = None, fmt: str | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """The file's rows as ``(_id, base fields)``, in file order, fully validated."""
    path = Path(path)
    records = read_records(path, fmt)
    validate_records(path, records)
    return assign_ids(path, records, id_column)


def import_file(
    store: LeadStore,
    path: str | Path,
    name: str,
    *,
    id_column: str | None = None,
    prune: bool = False,
    fmt: str | None = None,
) -> ImportReport:
    """Create or update lead list ``name`` from a file; re-importing is idempotent."""
    check_name(name)
    path = Path(path)
    rows = load_file(path, id_column=id_column, fmt=fmt)
    return store.import_rows(name, rows, source=str(path.resolve()), prune=prune)
