"""Submitting runs of the Dagster definitions and following them to their end.

What ``lead-pipeline enrich`` (and tests, benchmarks) use to launch a run the way
the UI does: the run's config, its progress from the lead store, the bound on a
run that shows no sign of life, and failing the runs of a launcher that died.
It sits above ``defs/``, like the CLI: it imports the definitions, and nothing
in ``defs/`` imports it, so ``defs/`` holds Dagster definitions only.
"""
