"""One Dagster asset per workflow: select rows, fan out shards, run them, summarize.

The asset is graph-backed so that the rows of a lead list run as a handful of
shard steps (``DynamicOutput``s) under the executor's concurrency limit, never
as one step per row: launching a step costs seconds, a row milliseconds.
"""

import inspect
from typing import Any

import dagster as dg

from lead_pipeline.defs.partitions import PROVIDER_POOLS, lead_lists_partitions
from lead_pipeline.defs.preview import causes_table, preview_table
from lead_pipeline.defs.resources import EnrichOptions, LeadStoreResource
from lead_pipeline.engine import (
    CompiledWorkflow,
    RowsFailed,
    RunRefused,
    RunSummary,
    Selection,
    Shard,
    ShardSummary,
    UnknownList,
    WorkflowRun,
    run_options,
)

GROUP = "enrichment"
# Set in the metadata of a step failure that means "rows failed", not "could not run".
ROWS_FAILED_TAG = "lead_pipeline/rows_failed"


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


def _plan_only(context: dg.OpExecutionContext, run: WorkflowRun) -> dg.Output:
    """The launchpad's ``plan_only``: the plan in the step's log and metadata, no row."""
    planned = run.plan()
    for line in planned.lines:
        context.log.info(line)
    metadata: dict[str, Any] = {
        "plan_only": True,
        "plan_rows": planned.plan.rows,
        "plan_cost_min_usd": round(planned.plan.cost_min, 6),
        "plan_cost_max_usd": round(planned.plan.cost_max, 6),
        "plan": dg.MetadataValue.md("```\n" + "\n".join(planned.lines) + "\n```"),
    }
    return dg.Output(planned.selection, "selection", metadata=metadata)


def _after(upstream: str) -> str:
    """The select step's input that waits for ``upstream``'s materialization (and checks)."""
    return f"after_{upstream}"


def _failure(exc: RunRefused) -> dg.Failure:
    """A refused run as a step failure that Dagster does not retry; a partition added by
    hand in the UI is told how to fill it, or how to remove it."""
    text = str(exc)
    if isinstance(exc, UnknownList):
        text += "; or remove the partition with: lead-pipeline lists --prune-partitions"
    if isinstance(exc, RowsFailed):
        # The run page says why; there is no materialization, downstream workflows do not run.
        metadata = {**_metadata(exc.summary, exc.causes), ROWS_FAILED_TAG: True}
        return dg.Failure(description=text, metadata=metadata, allow_retries=False)
    return dg.Failure(description=text, allow_retries=False)


def _metadata(summary: RunSummary, causes: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "ok": summary.ok,
        "failed": summary.failed,
        "failure_rate": round(summary.failure_rate, 4),
        "no_answer": summary.no_answer,
        "skipped": summary.skipped,
        "up_to_date": summary.up_to_date,
        "left_alone": summary.left_alone,
        "not_started": summary.not_started,
        "budget_waits": summary.budget_waits,
        "rows": summary.total_rows,
        "duration_s": round(summary.duration_s, 2),
        "rows_per_minute": round(summary.rows_per_minute, 1),
        "cost_usd": round(summary.cost, 6),
        "shards": summary.shards,
    }
    if summary.waiting or summary.waiting_on_batch or summary.batches:
        # The batch lane: rows waiting on LLM batches, and what this run submitted.
        metadata["waiting_on_llm_batches"] = summary.waiting + summary.waiting_on_batch
        metadata["llm_batches_submitted"] = [
            f"{b.provider} {b.batch_id}: {b.rows} questions" for b in summary.batches
        ]
    if summary.failed:
        metadata["error_causes"] = causes_table(
            summary.causes, summary.other_causes, summary.other_cause_rows
        )
    return metadata


def _named(context: dg.OpExecutionContext, name: str) -> bool:
    """Whether the run selected asset ``name`` itself, rather than running the whole job."""
    selected = context.run.asset_selection
    return selected is not None and dg.AssetKey(name) in selected


def build_workflow_asset(
    workflow: CompiledWorkflow, known_params: frozenset[str] | None = None
) -> dg.AssetsDefinition:
    """One graph-backed asset whose three steps call :class:`WorkflowRun`.

    ``known_params``: every parameter any workflow of the code location declares.
    Run options carry parameters for the whole run (several workflows); a name
    none of them declares is a typo, refused before any row is touched.
    """
    name = workflow.name
    spec = workflow.spec
    known = known_params if known_params is not None else frozenset(spec.params)

    def workflow_run(
        context: dg.OpExecutionContext, store: LeadStoreResource, enrich: EnrichOptions
    ) -> WorkflowRun:
        return WorkflowRun(
            store.get(),
            workflow,
            context.partition_key,
            run_options(enrich, workflow, known),
            owner=context.run_id,
            owner_ended=lambda owner: _run_ended(context.instance, owner),
            log=context.log,
        )

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
        if spec.in_all is False and not _named(context, name):
            # A run of the whole job (the launchpad without a selection): a workflow that
            # runs only when named is left out, as `enrich --workflow all` leaves it out.
            context.log.info(
                f"{name} runs only when selected by name (in_all: false in its file); "
                "left out of this run of the whole chain"
            )
            yield dg.Output(Selection(lead_list=context.partition_key, workflow=name), "selection")
            return
        try:
            run = workflow_run(context, store, enrich)
            run.check()
            if enrich.plan_only:  # the launchpad's plan: log it, write nothing, run no row
                yield _plan_only(context, run)
                return
            selection = run.select(dagster_run_id=context.run_id)
        except RunRefused as exc:
            raise _failure(exc) from None
        yield dg.Output(selection.counts_only(), "selection")  # the shards carry the rows
        for shard in run.shards(selection):
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
        try:
            return workflow_run(context, store, enrich).run_shard(shard)
        except RunRefused as exc:
            raise _failure(exc) from None

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
        try:
            done = workflow_run(context, store, enrich)
            summary = done.close(selection, summaries)
        except RunRefused as exc:
            raise _failure(exc) from None
        metadata = _metadata(summary, done.causes(summary))
        if enrich.plan_only:
            metadata["plan_only"] = True  # nothing was run: the plan is in the select step's log
        metadata["preview"] = preview_table(store.get(), selection.lead_list, workflow)
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
    )(compose)
