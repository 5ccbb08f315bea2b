"""One Dagster asset per workflow: select rows, fan out shards, run them, summarize.

The asset is graph-backed so that the rows of a lead list run as a handful of
shard steps (``DynamicOutput``s) under the executor's concurrency limit, never
as one step per row: launching a step costs seconds, a row milliseconds.
"""

import inspect
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg

from lead_pipeline.defs.partitions import PROVIDER_POOLS, lead_lists_partitions
from lead_pipeline.defs.preview import causes_table, preview_table
from lead_pipeline.defs.resources import EnrichOptions, LeadStoreResource
from lead_pipeline.engine.compile import CompiledWorkflow, WorkflowConfigError
from lead_pipeline.engine.options import RunOptions
from lead_pipeline.engine.plan import RunPlan, plan_workflow, render_plan
from lead_pipeline.engine.registry import NotConfigured
from lead_pipeline.engine.runlock import (
    STALE_ENV,
    LockKeeper,
    LockLost,
    current_launcher,
    holder_is_gone,
    stale_after_s,
    watch_launcher,
)
from lead_pipeline.engine.runner import run_shard
from lead_pipeline.engine.selection import Selection, Shard, make_shards, select_rows
from lead_pipeline.engine.summary import RunSummary, ShardSummary, describe_failures
from lead_pipeline.providers.cache import CacheLifetimes
from lead_pipeline.settings import get_settings
from lead_pipeline.store import LeadStore, UnknownLeadListError

GROUP = "enrichment"
# A run in which more than this share of the processed rows failed fails (the UI shows it
# red, downstream workflows do not run); below it, the failure_rate check judges the list.
RUN_FAILS_ABOVE = 0.5
# Set in the metadata of a step failure that means "rows failed", not "could not run".
ROWS_FAILED_TAG = "lead_pipeline/rows_failed"
# How long the values passed between a run's steps are kept (for re-execution from the UI).
STEP_OUTPUT_RETENTION = timedelta(days=7)


def _pool(workflow: CompiledWorkflow) -> str | None:
    """The concurrency pool a workflow's shard steps draw from: its scarcest provider."""
    kinds = workflow.kinds()
    for pool in PROVIDER_POOLS:
        if pool in kinds:
            return pool
    return None


def _run_ended(instance: dg.DagsterInstance, run_id: str) -> bool:
    """Whether the Dagster run ``run_id`` is known here and over (succeeded, failed, canceled).

    A run killed with its processes stays STARTED: only its heartbeat going stale
    frees its lock. A run marked canceled or failed frees it at once.
    """
    run = instance.get_run_by_id(run_id)
    return run is not None and run.is_finished


def take_run_lock(
    context: dg.OpExecutionContext, db: LeadStore, lead_list: str, workflow: str
) -> float:
    """Hold the run lock of ``workflow`` on ``lead_list`` for this run, or fail the step.

    Returns the stale threshold in force. Called by the select step and again
    by each shard (a no-op refresh for the same run; a re-executed run's shards
    take the lock under their own run id).
    """
    stale = stale_after_s()
    watch_launcher()  # this step process ends itself if the command that launched it dies
    launcher = current_launcher()
    process = {
        "holder": launcher.text() if launcher else None,
        "holder_gone": holder_is_gone,  # a dead command's lock is free at once, not in 120 s
    }
    attempt = db.acquire_run_lock(lead_list, workflow, context.run_id, stale, **process)
    if not attempt.acquired and _run_ended(context.instance, attempt.holder.owner):
        attempt = db.acquire_run_lock(
            lead_list, workflow, context.run_id, stale, take_from=attempt.holder.owner, **process
        )
    if not attempt.acquired:
        holder = attempt.holder
        raise dg.Failure(
            description=(
                f"workflow {workflow!r} on list {lead_list!r} is already running in run "
                f"{holder.owner} since {holder.acquired_at:%Y-%m-%d %H:%M:%S} UTC "
                f"(last heartbeat {holder.heartbeat_at:%H:%M:%S}); wait for it to finish. "
                f"If its processes died, the lock is taken over once it has had no heartbeat "
                f"for {stale:.0f}s ({STALE_ENV}), or at once when that run is marked "
                "canceled in the Dagster UI"
            ),
            allow_retries=False,
        )
    if attempt.replaced is not None:
        context.log.warning(
            f"took over the run lock of {workflow} on {lead_list} from run "
            f"{attempt.replaced.owner} (last heartbeat "
            f"{attempt.replaced.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC), which ended or died"
        )
    return stale


def plan_only_selection(
    context: dg.OpExecutionContext,
    db: LeadStore,
    workflow: CompiledWorkflow,
    lead_list: str,
    options: RunOptions,
) -> dg.Output:
    """The launchpad's ``plan_only``: log the plan, write nothing, hand on no row to run."""
    plan = plan_workflow(db, workflow, lead_list, options, settings=get_settings())
    lines = render_plan(RunPlan(lead_list=lead_list, parallel=options.parallel, workflows=[plan]))
    for line in lines:
        context.log.info(line)
    selection = Selection(
        lead_list=lead_list,
        workflow=workflow.name,
        up_to_date=plan.up_to_date,
        not_eligible=plan.not_eligible,
        total_rows=plan.total_rows,
        started_at=time.time(),
    )
    metadata = {
        "plan_only": True,
        "plan_rows": plan.rows,
        "plan_cost_min_usd": round(plan.cost_min, 6),
        "plan_cost_max_usd": round(plan.cost_max, 6),
        "plan": dg.MetadataValue.md("```\n" + "\n".join(lines) + "\n```"),
    }
    return dg.Output(selection, "selection", metadata=metadata)


def _after(upstream: str) -> str:
    """The select step's input that waits for ``upstream``'s materialization (and checks)."""
    return f"after_{upstream}"


def _fail_the_run(
    db: LeadStore, summary: RunSummary, metadata: dict[str, Any], causes: str
) -> None:
    """Close the run record as failed and fail the step: most rows failing is not a success.

    The step's failure carries the causes in its description and metadata, so
    the run page says why; there is no materialization, downstream workflows do
    not run, and the store keeps every row's result and error.
    """
    done = summary.processed
    headline = (
        f"{summary.failed} of {done} processed rows failed ({summary.failure_rate:.0%}; a run "
        f"fails above {RUN_FAILS_ABOVE:.0%}). See them all with: lead-pipeline errors --lead "
        f"{summary.lead_list} --workflow {summary.workflow}"
    )
    if summary.store_run_id is not None:
        db.finish_run(
            summary.store_run_id,
            status="failed",
            ok=summary.ok,
            failed=summary.failed,
            skipped=summary.skipped,
            cost=summary.cost,
            message=summary.line(),
        )
    raise dg.Failure(
        description=f"{headline}\n{causes}",
        metadata={**metadata, ROWS_FAILED_TAG: True},
        allow_retries=False,
    )


def build_workflow_asset(
    workflow: CompiledWorkflow, known_params: frozenset[str] | None = None
) -> dg.AssetsDefinition:
    """``known_params``: every parameter any workflow of the code location declares.

    Run options carry parameters for the whole run (several workflows); a name
    none of them declares is a typo, refused before any row is touched.
    """
    name = workflow.name
    spec = workflow.spec
    known = known_params if known_params is not None else frozenset(spec.params)

    @dg.op(
        name=f"{name}__select",
        # One Nothing input per upstream workflow, not one fanned-in list: the job wires
        # each upstream's blocking checks into its input, and Dagster cannot nest that
        # fan-in inside another.
        ins={_after(u): dg.In(dg.Nothing) for u in spec.needs},
        out={"shards": dg.DynamicOut(Shard), "selection": dg.Out(Selection)},
        description=f"Pick the rows of the lead list that {name} must (re)process and shard them.",
    )
    def select(
        context: dg.OpExecutionContext, store: LeadStoreResource, enrich: EnrichOptions
    ) -> Any:
        lead_list = context.partition_key
        try:
            enrich.check_params(known)
        except WorkflowConfigError as exc:
            raise dg.Failure(description=str(exc), allow_retries=False) from None
        options = enrich.for_workflow(workflow)
        try:
            workflow.preflight()
        except NotConfigured as exc:
            raise dg.Failure(
                description=f"workflow {name!r} cannot run: {exc}", allow_retries=False
            ) from None
        db = store.get()
        try:
            db.require_list(lead_list)
        except UnknownLeadListError as exc:
            # A partition added by hand in the UI: say how to fill it, or how to remove it.
            raise dg.Failure(
                description=f"{exc}; or remove the partition with: "
                "lead-pipeline lists --prune-partitions",
                allow_retries=False,
            ) from None
        if enrich.plan_only:
            yield plan_only_selection(context, db, workflow, lead_list, options)
            return
        # Before anything is written: a refused run must leave the store as it found it.
        take_run_lock(context, db, lead_list, name)
        try:
            selection = select_rows(db, workflow, lead_list, options)
        except (UnknownLeadListError, WorkflowConfigError) as exc:
            db.release_run_lock(lead_list, name, context.run_id)
            raise dg.Failure(description=str(exc), allow_retries=False) from None
        except BaseException:
            db.release_run_lock(lead_list, name, context.run_id)
            raise
        # "selected" lets the CLI's progress bar know this run's total.
        selection.store_run_id = db.start_run(
            lead_list,
            name,
            {**options.as_dict(), "selected": len(selection.work)},
            dagster_run_id=context.run_id,
        )
        selection.started_at = time.time()
        shards = make_shards(selection, options, inline=workflow.inline)
        context.log.info(
            f"{name} on {lead_list}: {len(selection.work)} rows to process in {len(shards)} "
            f"shard(s), {selection.up_to_date} up to date, {selection.not_eligible} outside where"
        )
        yield dg.Output(selection, "selection")
        for shard in shards:
            yield dg.DynamicOutput(shard, mapping_key=shard.key, output_name="shards")

    @dg.op(
        name=f"{name}__run_shard",
        pool=_pool(workflow),
        description=f"Run {name}'s nodes over one shard of rows, concurrently.",
    )
    def run(
        context: dg.OpExecutionContext,
        shard: Shard,
        store: LeadStoreResource,
        enrich: EnrichOptions,
    ) -> ShardSummary:
        db = store.get()
        stale = take_run_lock(context, db, shard.lead_list, name)
        keeper = LockKeeper(db, shard.lead_list, name, context.run_id, stale)
        try:
            summary = run_shard(
                db,
                workflow,
                shard,
                enrich.for_workflow(workflow),
                settings=get_settings(),
                lock=keeper,
            )
        except LockLost as exc:
            raise dg.Failure(description=str(exc), allow_retries=False) from None
        context.log.info(
            f"shard {shard.index + 1}/{shard.count}: {summary.ok} ok, {summary.failed} failed "
            f"in {summary.duration_s:.1f}s"
        )
        return summary

    @dg.op(
        name=f"{name}__summarize",
        description=f"Close the run of {name}: counts, cost and a preview.",
    )
    def summarize(
        context: dg.OpExecutionContext,
        selection: Selection,
        summaries: list[ShardSummary],
        store: LeadStoreResource,
        enrich: EnrichOptions,
    ) -> dg.Output[RunSummary]:
        db = store.get()
        summary = RunSummary(
            lead_list=selection.lead_list,
            workflow=name,
            selected=len(selection.work),
            up_to_date=selection.up_to_date,
            not_eligible=selection.not_eligible,
            held_back=selection.held_back,
            left_alone=selection.left_alone,
            store_run_id=selection.store_run_id,
        ).merge(summaries)
        if selection.store_run_id is not None:
            counts = db.run_counts(selection.store_run_id, [n.id for n in workflow.nodes])
            summary.count_from_store(counts.ok, counts.failed, counts.skipped)
            summary.with_causes(db.failures(selection.lead_list, run_id=selection.store_run_id))
        summary.duration_s = time.time() - selection.started_at
        context.log.info(summary.line())
        causes = describe_failures(summary.causes, summary.other_causes, summary.other_cause_rows)
        if causes:
            context.log.warning(f"rows failed, by cause:\n{causes}")
        # Values between steps are only needed to re-execute recent runs.
        db.prune_step_outputs(datetime.now(UTC) - STEP_OUTPUT_RETENTION)
        lifetimes = CacheLifetimes.from_setting(get_settings().cache_ttl)
        db.prune_cache(lifetimes.default, lifetimes.providers)  # expired answers are misses
        metadata: dict[str, Any] = {
            "ok": summary.ok,
            "failed": summary.failed,
            "failure_rate": round(summary.failure_rate, 4),
            "no_answer": summary.no_answer,
            "skipped": summary.skipped,
            "up_to_date": summary.up_to_date,
            "left_alone": summary.left_alone,
            "not_started": summary.not_started,
            "rows": selection.total_rows,
            "duration_s": round(summary.duration_s, 2),
            "rows_per_minute": round(summary.rows_per_minute, 1),
            "cost_usd": round(summary.cost, 6),
            "shards": summary.shards,
        }
        if enrich.plan_only:
            metadata["plan_only"] = True  # nothing was run: the plan is in the select step's log
        if summary.failed:
            metadata["error_causes"] = causes_table(
                summary.causes, summary.other_causes, summary.other_cause_rows
            )
        try:
            if summary.failed and summary.failure_rate > RUN_FAILS_ABOVE:
                _fail_the_run(db, summary, metadata, causes)
            metadata["preview"] = preview_table(db, selection.lead_list, workflow)
            if summary.store_run_id is not None:
                db.finish_run(
                    summary.store_run_id,
                    status="succeeded",
                    ok=summary.ok,
                    failed=summary.failed,
                    skipped=summary.skipped,
                    cost=summary.cost,
                    message=summary.line(),
                )
        finally:
            db.release_run_lock(selection.lead_list, name, context.run_id)
        return dg.Output(summary, metadata=metadata)

    ins = {upstream: dg.AssetIn(key=upstream, dagster_type=dg.Nothing) for upstream in spec.needs}

    def compose(**upstream: Any) -> Any:
        # A Nothing input takes the upstream assets' completion; a root asset has none.
        shards, selection = select(**{_after(u): done for u, done in upstream.items()})
        summaries = shards.map(run)
        return summarize(selection, summaries.collect())

    # Dagster reads a graph's inputs from its signature: one parameter per upstream.
    compose.__name__ = name
    compose.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(u, inspect.Parameter.POSITIONAL_OR_KEYWORD) for u in spec.needs]
    )
    return dg.graph_asset(
        compose,
        name=name,
        ins=ins,
        description=spec.description or f"Workflow {name}",
        group_name=spec.group or GROUP,
        partitions_def=lead_lists_partitions,
        code_version=spec.config_hash(),
        kinds=workflow.kinds() or {"python"},
        metadata={
            "nodes": ", ".join(f"{n.id} ({n.spec.type})" for n in workflow.nodes),
            "outputs": ", ".join(spec.output_columns()),
            "where": spec.where or "every row",
            "source": str(spec.source or "built-in"),
        },
    )
