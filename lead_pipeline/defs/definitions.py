"""The code location: every workflow as an asset, wired to the store and the executor.

``workspace.yaml``, ``dg`` and ``dagster dev`` load ``defs`` from here; the CLI
runs ``chain_job`` through ``reconstructable`` so command-line runs take the same
path as the UI's and appear in the same instance.

Nothing is built when the module is imported: ``defs`` is a ``@dg.definitions``
function that Dagster's tools call when they load the location, and
``chain_job`` builds on first use, once per process. Step processes fork from a
server that has built it already (``defs/preload.py``), so they do not build again.
"""

from __future__ import annotations

import functools
import logging

import dagster as dg

from lead_pipeline.defs.assets import build_workflow_asset
from lead_pipeline.defs.batch_sensor import build_llm_batches_sensor
from lead_pipeline.defs.checks import CheckSettings, build_workflow_checks
from lead_pipeline.defs.crm_sensor import build_hubspot_lists_sensor
from lead_pipeline.defs.executor import build_executor
from lead_pipeline.defs.hubspot import build_hubspot_asset
from lead_pipeline.defs.io_manager import LeadStoreIOManager
from lead_pipeline.defs.partitions import lead_lists_partitions
from lead_pipeline.defs.redaction import guard_event_log
from lead_pipeline.defs.resources import EnrichOptions, LeadStoreResource
from lead_pipeline.defs.schedules import build_daily_schedule
from lead_pipeline.defs.sensors import build_lead_files_sensor
from lead_pipeline.engine.registry import registry
from lead_pipeline.workflows.loader import load_workflows

CHAIN_JOB = "enrich_chain"

# Every process that loads the code location (the CLI's run, each step process, a code
# server, a Celery worker) scrubs what it stores in the event log, prints and logs.
guard_event_log()


def build_definitions() -> dg.Definitions:
    """Every loading workflow's asset, checks, the chain job, automation and resources."""
    loaded = load_workflows(node_types=registry(), set_aside_broken=True)
    if loaded.broken:
        # The code location loads the good workflows; the UI shows this in its logs.
        logging.getLogger(__name__).warning(loaded.warning())
    workflows = loaded.ordered()
    params = frozenset(name for w in workflows for name in w.spec.params)
    assets = [build_workflow_asset(workflow, params) for workflow in workflows]
    store = LeadStoreResource()
    chain = dg.define_asset_job(
        CHAIN_JOB,
        selection=dg.AssetSelection.assets(*(w.name for w in workflows)),
        partitions_def=lead_lists_partitions,
        description="Every workflow for one lead list, in dependency order.",
    )
    return dg.Definitions(
        assets=[*assets, build_hubspot_asset(workflows)],
        asset_checks=[build_workflow_checks(workflow) for workflow in workflows],
        jobs=[chain],
        sensors=[
            build_lead_files_sensor(workflows, CHAIN_JOB),
            build_hubspot_lists_sensor(workflows, CHAIN_JOB),
            build_llm_batches_sensor(workflows, CHAIN_JOB),
        ],
        schedules=[build_daily_schedule(workflows, CHAIN_JOB)],
        resources={
            "store": store,
            "enrich": EnrichOptions(),
            "checks": CheckSettings(),
            "io_manager": LeadStoreIOManager(store=store),
        },
        executor=build_executor(),
    )


@functools.cache
def definitions() -> dg.Definitions:
    """This process's code location, built on first use (workflow files are read then)."""
    return build_definitions()


@dg.definitions
def defs() -> dg.Definitions:
    """What Dagster's tools load (``workspace.yaml``, ``[tool.dg]``)."""
    return definitions()


def chain_job() -> dg.JobDefinition:
    """Module-level, so ``reconstructable`` can rebuild the job in step processes."""
    return definitions().resolve_job_def(CHAIN_JOB)
