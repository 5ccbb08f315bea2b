"""Tables for the materialization page: a preview of enriched rows, and the error causes.

Both are Dagster table metadata (``MetadataValue.table``), which the UI shows
as a real table with a column per field, not markdown squeezed into one cell.
"""

from __future__ import annotations

import json
import math
from typing import Any

import dagster as dg

from lead_pipeline.engine.compile import CompiledWorkflow
from lead_pipeline.engine.summary import ErrorGroup
from lead_pipeline.store import ID_COLUMN, LeadStore

PREVIEW_ROWS = 10
CELL_CHARS = 160


def _text(value: Any) -> str:
    """Lists of records (founders) read as 'a, b; c, d' rather than as JSON."""
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return "; ".join(", ".join(str(x) for x in v.values() if x) for v in value)
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = _text(value).replace("\n", " ")
    return text if len(text) <= CELL_CHARS else text[: CELL_CHARS - 1] + "…"


def _strings(columns: list[str], rows: list[dict[str, str]]) -> dg.TableMetadataValue:
    schema = dg.TableSchema(columns=[dg.TableColumn(c, "string") for c in columns])
    return dg.MetadataValue.table(records=[dg.TableRecord(r) for r in rows], schema=schema)


def preview_table(
    store: LeadStore, lead_list: str, workflow: CompiledWorkflow
) -> dg.TableMetadataValue:
    """The first rows that have this workflow's outputs: name (and website) and the outputs.

    Only those rows are read (``LeadStore.preview_rows``), however long the list.
    """
    shown = {c for n in workflow.spec.nodes for c, spec in n.outputs.items() if spec.preview}
    outputs = [c for c in workflow.spec.output_columns() if c in shown]
    found = store.preview_rows(lead_list, workflow.name, outputs, PREVIEW_ROWS) if outputs else []
    label = [c for c in ("name", "website") if any(c in row for row in found)] or [ID_COLUMN]
    columns = [*label, *outputs]
    return _strings(columns, [{c: _cell(row.get(c)) for c in columns} for row in found])


def causes_table(
    causes: list[ErrorGroup], other_causes: int = 0, other_rows: int = 0
) -> dg.TableMetadataValue:
    """The biggest causes of failed rows: how many rows, at which node, why, and which rows."""
    schema = dg.TableSchema(
        columns=[
            dg.TableColumn("rows", "int"),
            dg.TableColumn("node", "string"),
            dg.TableColumn("cause", "string"),
            dg.TableColumn("examples", "string", description="row id (name)"),
        ]
    )
    records = [
        dg.TableRecord(
            {"rows": g.count, "node": g.node, "cause": g.cause, "examples": g.examples_text()}
        )
        for g in causes
    ]
    if other_causes:
        records.append(
            dg.TableRecord(
                {
                    "rows": other_rows,
                    "node": "",
                    "cause": f"{other_causes} other cause(s)",
                    "examples": "lead-pipeline errors --lead ...",
                }
            )
        )
    return dg.MetadataValue.table(records=records, schema=schema)
