"""The ``lead_lists`` dynamic partitions: one partition per imported lead list."""

from __future__ import annotations

import os

import dagster as dg

from lead_pipeline import settings

LEAD_LISTS = "lead_lists"
lead_lists_partitions = dg.DynamicPartitionsDefinition(name=LEAD_LISTS)


def instance() -> dg.DagsterInstance:
    """The persistent instance under ``data/`` unless ``DAGSTER_HOME`` says otherwise.

    Setting ``DAGSTER_HOME`` here (not only reading it) means the CLI, the
    webserver and the step workers they spawn all agree on one instance, so a
    run started from the command line shows in the UI.
    """
    home = settings.dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DEFAULT_INSTANCE_YAML)
    return dg.DagsterInstance.get()


DEFAULT_INSTANCE_YAML = """\
# Written by lead-pipeline on first use; edit freely.
telemetry:
  enabled: false
concurrency:
  runs:
    max_concurrent_runs: 4
"""


def register_lead_list(name: str, dagster_instance: dg.DagsterInstance | None = None) -> None:
    """Add the list as a partition; harmless when it is already there."""
    inst = dagster_instance or instance()
    if not inst.has_dynamic_partition(LEAD_LISTS, name):
        inst.add_dynamic_partitions(LEAD_LISTS, [name])
