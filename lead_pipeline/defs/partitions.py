"""The ``lead_lists`` dynamic partitions: one partition per imported lead list."""

from __future__ import annotations

import os

import dagster as dg

from lead_pipeline.settings import SettingsError, get_settings

LEAD_LISTS = "lead_lists"
lead_lists_partitions = dg.DynamicPartitionsDefinition(name=LEAD_LISTS)


def instance() -> dg.DagsterInstance:
    """The persistent instance under ``data/`` unless ``DAGSTER_HOME`` says otherwise.

    Setting ``DAGSTER_HOME`` here (not only reading it) means the CLI, the
    webserver and the step workers they spawn all agree on one instance, so a
    run started from the command line shows in the UI.
    """
    home = get_settings().dagster_home
    config = home / "dagster.yaml"
    try:
        home.mkdir(parents=True, exist_ok=True)
        if not config.exists():  # an existing file is the operator's: never overwritten
            config.write_text(DEFAULT_INSTANCE_YAML)
    except OSError as exc:  # a file where the folder should be, /proc, no permission
        raise SettingsError(
            f"DAGSTER_HOME: cannot use {home} as the Dagster home: {exc.strerror or exc}"
        ) from None
    os.environ["DAGSTER_HOME"] = str(home)
    inst = dg.DagsterInstance.get()
    ensure_provider_pools(inst)
    return inst


# Scarcest first: a workflow's shard steps take the first pool its node kinds name.
PROVIDER_POOLS = ("llm", "search", "fetch", "api")


def ensure_provider_pools(inst: dg.DagsterInstance) -> None:
    """Give each provider pool its default limit now, not when a run first needs it.

    Dagster's queue sets a pool's limit the first time a queued run needs the
    pool, but only reads the limits back on its next pass: on a new instance
    the first pass would launch every waiting run at once. A pool that already
    has a limit (the default or one set by hand) is left as it is.
    """
    storage = inst.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return
    for pool in set(PROVIDER_POOLS) - storage.get_concurrency_keys():
        storage.initialize_concurrency_limit_to_default(pool)


# Provider pools (the ``pool=`` of each workflow's shard steps: llm, search,
# fetch, api) are counted per run: at most ``default_limit`` runs that use a
# pool are in progress at once, so two runs never share one provider's rate
# limit (within a run, the shards already split it). Runs launched from the UI,
# a sensor, a schedule or a backfill wait in the queue for their pools; a
# ``lead-pipeline enrich`` run never waits (it does not go through the queue),
# so it cannot hang on a pool held by a run that was killed. To let more runs
# use a provider at once: ``dagster instance concurrency set llm 2`` or the
# UI's Deployment > Concurrency page. See README, "Concurrency".
# The queue is polled every second (Dagster's default is five), so a run launched
# from the UI starts without a noticeable wait.
DEFAULT_INSTANCE_YAML = """\
# Written by lead-pipeline on first use; edit freely.
telemetry:
  enabled: false
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    dequeue_interval_seconds: 1
concurrency:
  runs:
    max_concurrent_runs: 4
  pools:
    granularity: run
    default_limit: 1
"""


def register_lead_list(name: str, dagster_instance: dg.DagsterInstance | None = None) -> None:
    """Add the list as a partition; harmless when it is already there."""
    inst = dagster_instance or instance()
    if not inst.has_dynamic_partition(LEAD_LISTS, name):
        inst.add_dynamic_partitions(LEAD_LISTS, [name])


def ghost_partitions(
    known_lists: set[str], dagster_instance: dg.DagsterInstance | None = None
) -> list[str]:
    """``lead_lists`` partitions with no lead list behind them.

    The UI's "Add a partition" creates a partition for any name; a run of it is
    refused at select (the list was never imported), and the failed partition
    turns the asset's lineage red until it is removed.
    """
    inst = dagster_instance or instance()
    return sorted(set(inst.get_dynamic_partitions(LEAD_LISTS)) - known_lists)


def remove_partitions(names: list[str], dagster_instance: dg.DagsterInstance | None = None) -> None:
    inst = dagster_instance or instance()
    for name in names:
        inst.delete_dynamic_partition(LEAD_LISTS, name)
