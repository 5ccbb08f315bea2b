"""The Dagster face of the pipeline: assets, IO manager, resources, automation."""
