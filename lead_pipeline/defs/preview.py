"""A small markdown table of enriched rows for the materialization page."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from lead_pipeline.engine.compile import CompiledWorkflow
from lead_pipeline.store import ID_COLUMN

PREVIEW_ROWS = 10
CELL_CHARS = 60


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= CELL_CHARS else text[: CELL_CHARS - 1] + "…"


def markdown_preview(frame: pd.DataFrame, workflow: CompiledWorkflow) -> str:
    """The first rows that have this workflow's outputs, with name and outputs only."""
    outputs = [c for c in workflow.spec.output_columns() if c in frame.columns]
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
