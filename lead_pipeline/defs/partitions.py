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
    if not config.exists() or config.read_text() in PREVIOUS_DEFAULT_YAMLS:
        config.write_text(DEFAULT_INSTANCE_YAML)
    return dg.DagsterInstance.get()


# Provider pools (the ``pool=`` of each workflow's shard steps: llm, search,
# fetch, api) are counted per run: at most ``default_limit`` runs that use a
# pool are in progress at once, so two runs never share one provider's rate
# limit (within a run, the shards already split it). Runs launched from the UI,
# a sensor, a schedule or a backfill wait in the queue for their pools; a
# ``lead-pipeline enrich`` run never waits (it does not go through the queue),
# so it cannot hang on a pool held by a run that was killed. To let more runs
# use a provider at once: ``dagster instance concurrency set llm 2`` or the
# UI's Deployment > Concurrency page. See README, "Concurrency".
DEFAULT_INSTANCE_YAML = """\
# Written by lead-pipeline on first use; edit freely.
telemetry:
  enabled: false
concurrency:
  runs:
    max_concurrent_runs: 4
  pools:
    granularity: run
    default_limit: 1
"""

# Defaults written by earlier versions: still untouched by the user, so upgraded.
PREVIOUS_DEFAULT_YAMLS = (
    """\
# Written by lead-pipeline on first use; edit freely.
telemetry:
  enabled: false
concurrency:
  runs:
    max_concurrent_runs: 4
""",
)


def register_lead_list(name: str, dagster_instance: dg.DagsterInstance | None = None) -> None:
    """Add the list as a partition; harmless when it is already there."""
    inst = dagster_instance or instance()
    if not inst.has_dynamic_partition(LEAD_LISTS, name):
        inst.add_dynamic_partitions(LEAD_LISTS, [name])
