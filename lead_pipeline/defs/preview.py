"""A small markdown table of enriched rows for the materialization page."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from lead_pipeline.engine.compile import CompiledWorkflow
from lead_pipeline.store import ID_COLUMN

PREVIEW_ROWS = 10
CELL_CHARS = 160


def _text(value: Any) -> str:
    """Lists of records (founders) read as 'a, b; c, d' rather than as JSON."""
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return "; ".join(", ".join(str(x) for x in v.values() if x) for v in value)
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    text = _text(value)
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= CELL_CHARS else text[: CELL_CHARS - 1] + "…"


def markdown_preview(frame: pd.DataFrame, workflow: CompiledWorkflow) -> str:
    """The first rows that have this workflow's outputs, with name and outputs only."""
    shown = {c for n in workflow.spec.nodes for c, spec in n.outputs.items() if spec.preview}
    outputs = [c for c in workflow.spec.output_columns() if c in frame.columns and c in shown]
    if not outputs:
        return "_no enriched rows yet_"
    label = [c for c in ("name", "website") if c in frame.columns] or [ID_COLUMN]
    enriched = frame[frame[outputs].notna().any(axis=1)].head(PREVIEW_ROWS)
    if enriched.empty:
        return "_no enriched rows yet_"
    columns = [*label, *outputs]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for _, row in enriched.iterrows():
        lines.append("| " + " | ".join(_cell(row[c]) for c in columns) + " |")
    return "\n".join(lines)
