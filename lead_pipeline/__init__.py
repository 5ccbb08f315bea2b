"""lead-pipeline: lead-list enrichment workflows as partitioned Dagster assets."""

__version__ = "0.1.0"
