"""``python -m lead_pipeline.cli``: the same entry point as the console script."""

from lead_pipeline.cli import entry

entry()
