"""Asset checks per workflow: coverage, failure rate and output validity, per lead list.

The checks are partitioned like the assets (``lead_lists``), so each lead list
gets its own pass/fail in the UI and a run of the chain checks exactly the list
it enriched. They read the lead store, not the run's outputs: what a check
judges is the list as a user would export it, whichever runs produced it.

``failure_rate`` has ERROR severity and is blocking: when more than
``max_failure_rate`` of the processed rows failed, the workflows downstream
(``founder_linkedin`` after ``b2b_only``) do not run on that list, and the run
fails with the check named. ``coverage`` cannot pass while rows failed or are
pending. ``output_validity`` reports, it does not block: the runner refuses
invalid values before they are stored, so an invalid value here is one stored
under an older declaration.
"""

import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
from pydantic import Field

from lead_pipeline.defs.partitions import lead_lists_partitions
from lead_pipeline.defs.preview import causes_table
from lead_pipeline.defs.resources import LeadStoreResource
from lead_pipeline.engine.compile import CompiledWorkflow
from lead_pipeline.engine.counts import Outcomes
from lead_pipeline.engine.summary import ErrorGroup, group_failures
from lead_pipeline.store import OK, LeadStore

COVERAGE = "coverage"
FAILURE_RATE = "failure_rate"
VALIDITY = "output_validity"
CHECK_NAMES = (COVERAGE, FAILURE_RATE, VALIDITY)
DEFAULT_MAX_FAILURE_RATE = 0.10
EXAMPLES = 10


class CheckSettings(dg.ConfigurableResource):
    """Thresholds of the asset checks; set per run in the launchpad under ``resources.checks``."""

    max_failure_rate: float = Field(
        default=DEFAULT_MAX_FAILURE_RATE,
        ge=0,
        le=1,
        description="the failure-rate check fails above this share of processed rows",
    )


# ---- evaluation -------------------------------------------------------------


@dataclass
class Evaluation(Outcomes):
    """What the three checks of one workflow found on one lead list.

    ``processed`` and ``failure_rate`` are the run's (``engine/counts.py``) over the
    rows with an answer or a failure: the store's status counts a row with no answer
    and a row outside ``where`` alike as ``skipped``, and neither is judged here.
    """

    rows: int = 0
    skipped: int = 0
    pending: int = 0
    stale: int = 0
    values_checked: int = 0
    # Research answers stored as no answer because their evidence did not support them.
    unsupported: int = 0
    invalid: list[str] = field(default_factory=list)
    causes: list[ErrorGroup] = field(default_factory=list)


def evaluate(store: LeadStore, workflow: CompiledWorkflow, lead_list: str) -> Evaluation:
    """Count coverage and failures, and judge every stored output value of the workflow.

    A row is covered when every node has a result under the node's current
    configuration; a result left from an older version of the node is stale.
    """
    nodes = {node.id: node for node in workflow.nodes}
    status = store.status(lead_list, {workflow.name: list(nodes)})
    counts = next(w for w in status.workflows if w.workflow == workflow.name)
    found = Evaluation(
        rows=status.rows,
        ok=counts.ok,
        failed=counts.failed,
        skipped=counts.skipped,
        pending=counts.pending,
        unsupported=counts.unsupported,
    )
    if found.failed:
        found.causes, _, _ = group_failures(store.failures(lead_list, workflow.name))
    stale_rows: set[str] = set()
    for row_id, node_id, status, config_hash, outputs in store.stored_outputs(
        lead_list, workflow.name
    ):
        node = nodes.get(node_id)
        if node is None:
            continue  # a node since removed from the workflow: nothing to judge it by
        if config_hash != node.config_hash:
            stale_rows.add(row_id)
        if status != OK:
            continue
        validator = node.validator
        for column in node.spec.outputs:
            found.values_checked += 1
            why = validator.problem(column, (outputs or {}).get(column))
            if why is not None:
                found.invalid.append(f"row {row_id!r}, node {node_id!r}, {why}")
    found.stale = len(stale_rows)
    found.invalid.sort()  # the examples shown, in the order of row ids
    return found


def _examples(lines: list[str]) -> dg.MetadataValue:
    shown = "\n".join(f"- {line}" for line in lines[:EXAMPLES])
    more = len(lines) - EXAMPLES
    return dg.MetadataValue.md(shown + (f"\n- ... and {more} more" if more > 0 else ""))


def results(
    workflow: CompiledWorkflow, found: Evaluation, max_failure_rate: float, lead_list: str = ""
) -> Iterator[dg.AssetCheckResult]:
    """The three results; coverage only warns, since ``limit`` and ``max_cost`` leave rows."""
    key = dg.AssetKey(workflow.name)
    uncovered = found.pending + found.stale + found.failed
    problems = [
        f"{count} row(s) {what}"
        for count, what in (
            (found.failed, "failed"),
            (found.pending, "without a result"),
            (found.stale, "with a stale result"),
        )
        if count
    ]
    unsupported = (
        f"; {found.unsupported} research answer(s) stored as no answer, unsupported by their "
        "evidence (see: lead-pipeline trace)"
        if found.unsupported
        else ""
    )
    yield dg.AssetCheckResult(
        asset_key=key,
        check_name=COVERAGE,
        passed=uncovered == 0,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            "every eligible row has a current ok result"
            if uncovered == 0
            else ", ".join(problems)
            + (f" (see: lead-pipeline errors --lead {lead_list})" if found.failed else "")
        )
        + unsupported,
        metadata={
            "rows": found.rows,
            "ok": found.ok,
            "failed": found.failed,
            "skipped": found.skipped,
            "pending": found.pending,
            "stale": found.stale,
            "unsupported_answers": found.unsupported,
        },
    )
    rate = found.failure_rate
    rate_metadata: dict[str, Any] = {
        "failure_rate": round(rate, 4),
        "max_failure_rate": max_failure_rate,
        "failed": found.failed,
        "processed": found.processed,
    }
    if found.causes:
        rate_metadata["error_causes"] = causes_table(found.causes)
    top = f"; the top cause: {found.causes[0].label}" if found.causes else ""
    yield dg.AssetCheckResult(
        asset_key=key,
        check_name=FAILURE_RATE,
        passed=rate <= max_failure_rate,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"{found.failed} of {found.processed} processed row(s) failed "
        f"({rate:.1%}; the limit is {max_failure_rate:.1%}){top}",
        metadata=rate_metadata,
    )
    metadata: dict[str, Any] = {
        "values_checked": found.values_checked,
        "invalid": len(found.invalid),
    }
    if found.invalid:
        metadata["examples"] = _examples(found.invalid)
    yield dg.AssetCheckResult(
        asset_key=key,
        check_name=VALIDITY,
        passed=not found.invalid,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            f"{found.values_checked} output value(s) match their declared types and rules"
            if not found.invalid
            else f"{len(found.invalid)} of {found.values_checked} output value(s) are invalid"
        ),
        metadata=metadata,
    )


_NOT_CONSTRAINTS = {"type", "description", "preview", "optional"}


def _specs(workflow: CompiledWorkflow) -> list[dg.AssetCheckSpec]:
    constrained = [
        column
        for node in workflow.nodes
        for column, spec in node.spec.outputs.items()
        if spec.model_dump(exclude_none=True).keys() - _NOT_CONSTRAINTS
    ]
    descriptions = {
        COVERAGE: "Every row the workflow should process has an ok (or skipped) result under "
        "the current version of each node (rows outside `where` count as done); a failed row "
        "is not covered.",
        FAILURE_RATE: "At most `resources.checks.config.max_failure_rate` (default "
        f"{DEFAULT_MAX_FAILURE_RATE:.0%}) of the processed rows failed. Blocking: when it "
        "fails, the workflows downstream do not run on this list.",
        VALIDITY: "Every stored output value has its declared type and meets its declared "
        "constraints (the validator the runner checks new values with)"
        + (f": {', '.join(constrained)}." if constrained else "."),
    }
    with warnings.catch_warnings():
        # Partitioned checks are a preview feature in Dagster 1.13; they are what
        # lets each lead list pass or fail on its own, so the warning is expected.
        warnings.simplefilter("ignore", category=dg.PreviewWarning)
        return [
            dg.AssetCheckSpec(
                name,
                asset=workflow.name,
                description=descriptions[name],
                partitions_def=lead_lists_partitions,
                blocking=name == FAILURE_RATE,
            )
            for name in CHECK_NAMES
        ]


def build_workflow_checks(workflow: CompiledWorkflow) -> dg.AssetChecksDefinition:
    """One step per workflow and lead list that runs all three checks."""

    @dg.multi_asset_check(
        name=f"{workflow.name}__checks",
        specs=_specs(workflow),
        description=f"Coverage, failure rate and output validity of {workflow.name}.",
    )
    def check(
        context: dg.AssetCheckExecutionContext, store: LeadStoreResource, checks: CheckSettings
    ) -> Iterator[dg.AssetCheckResult]:
        found = evaluate(store.get(), workflow, context.partition_key)
        yield from results(workflow, found, checks.max_failure_rate, context.partition_key)

    return check
