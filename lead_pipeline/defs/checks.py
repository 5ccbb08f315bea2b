"""Asset checks per workflow: coverage, failure rate and output validity, per lead list.

The checks are partitioned like the assets (``lead_lists``), so each lead list
gets its own pass/fail in the UI and a run of the chain checks exactly the list
it enriched. They read the lead store, not the run's outputs: what a check
judges is the list as a user would export it, whichever runs produced it.

None of them blocks downstream workflows: a few failed rows in ``b2b_only``
should not stop ``founder_linkedin`` from enriching the rest.
"""

import math
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
from pydantic import Field

from lead_pipeline.defs.partitions import lead_lists_partitions
from lead_pipeline.defs.resources import LeadStoreResource
from lead_pipeline.engine.compile import CompiledWorkflow
from lead_pipeline.founders import is_canonical_profile_url
from lead_pipeline.store import OK, LeadStore

COVERAGE = "coverage"
FAILURE_RATE = "failure_rate"
VALIDITY = "output_validity"
CHECK_NAMES = (COVERAGE, FAILURE_RATE, VALIDITY)
DEFAULT_MAX_FAILURE_RATE = 0.10
EXAMPLES = 10

# A value that breaks a rule: the rule returns why, or None when the value is fine.
Rule = Callable[[Any], str | None]


class CheckSettings(dg.ConfigurableResource):
    """Thresholds of the asset checks; set per run in the launchpad under ``resources.checks``."""

    max_failure_rate: float = Field(
        default=DEFAULT_MAX_FAILURE_RATE,
        ge=0,
        le=1,
        description="the failure-rate check fails above this share of processed rows",
    )


# ---- output validity rules --------------------------------------------------

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


def type_error(declared: str, value: Any) -> str | None:
    """Why ``value`` is not of the declared output type (None is always allowed)."""
    if value is None:
        return None
    if isinstance(value, bool) and declared in ("integer", "number"):
        return f"expected {declared}, got boolean"
    if not isinstance(value, _TYPES[declared]):
        return f"expected {declared}, got {type(value).__name__}"
    if isinstance(value, float) and not math.isfinite(value):
        return f"expected a finite {declared}, got {value}"
    return None


def _confidence(value: Any) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and 0.5 <= value <= 1:
        return None
    return f"{value!r} is not within [0.5, 1]"


def _founders(value: Any) -> str | None:
    if not isinstance(value, list):
        return None  # the type rule reports it
    for person in value:
        if not isinstance(person, dict):
            return f"a founder is {type(person).__name__}, not an object"
        url = person.get("linkedin_url")
        if not is_canonical_profile_url(url):
            return f"linkedin_url {url!r} is not a canonical LinkedIn profile URL"
    return None


def _founder_count(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        return f"{value} is negative"
    return None


# Rules beyond the declared type, per (workflow, output column). Two workflows
# never write the same column, so the pair names one column of one workflow.
RULES: dict[tuple[str, str], Rule] = {
    ("b2b_only", "b2b_confidence"): _confidence,
    ("founder_linkedin", "founders"): _founders,
    ("founder_linkedin", "founder_count"): _founder_count,
}


# ---- evaluation -------------------------------------------------------------


@dataclass
class Evaluation:
    """What the three checks of one workflow found on one lead list."""

    rows: int = 0
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    pending: int = 0
    stale: int = 0
    values_checked: int = 0
    invalid: list[str] = field(default_factory=list)

    @property
    def processed(self) -> int:
        return self.ok + self.failed

    @property
    def failure_rate(self) -> float:
        return self.failed / self.processed if self.processed else 0.0


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
    )
    for row_id, results in sorted(store.results(lead_list, [workflow.name]).items()):
        stale = False
        for (_, node_id), result in results.items():
            node = nodes.get(node_id)
            if node is None:
                continue  # a node since removed from the workflow: nothing to judge it by
            stale = stale or result.config_hash != node.config_hash
            if result.status != OK:
                continue
            for column, spec in node.spec.outputs.items():
                value = (result.outputs or {}).get(column)
                found.values_checked += 1
                rule = RULES.get((workflow.name, column))
                why = type_error(spec.type, value) or (rule(value) if rule else None)
                if why is not None:
                    found.invalid.append(f"row {row_id!r}, node {node_id!r}, {column}: {why}")
        found.stale += stale
    return found


def _examples(lines: list[str]) -> dg.MetadataValue:
    shown = "\n".join(f"- {line}" for line in lines[:EXAMPLES])
    more = len(lines) - EXAMPLES
    return dg.MetadataValue.md(shown + (f"\n- ... and {more} more" if more > 0 else ""))


def results(
    workflow: CompiledWorkflow, found: Evaluation, max_failure_rate: float
) -> Iterator[dg.AssetCheckResult]:
    """The three results; coverage only warns, since ``limit`` and ``max_cost`` leave rows."""
    key = dg.AssetKey(workflow.name)
    uncovered = found.pending + found.stale
    yield dg.AssetCheckResult(
        asset_key=key,
        check_name=COVERAGE,
        passed=uncovered == 0,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            "every eligible row has a current result"
            if uncovered == 0
            else f"{found.pending} row(s) without a result, {found.stale} with a stale one"
        ),
        metadata={
            "rows": found.rows,
            "ok": found.ok,
            "failed": found.failed,
            "skipped": found.skipped,
            "pending": found.pending,
            "stale": found.stale,
        },
    )
    rate = found.failure_rate
    yield dg.AssetCheckResult(
        asset_key=key,
        check_name=FAILURE_RATE,
        passed=rate <= max_failure_rate,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"{found.failed} of {found.processed} processed row(s) failed "
        f"({rate:.1%}; the limit is {max_failure_rate:.1%})",
        metadata={
            "failure_rate": round(rate, 4),
            "max_failure_rate": max_failure_rate,
            "failed": found.failed,
            "processed": found.processed,
        },
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


def _specs(workflow: CompiledWorkflow) -> list[dg.AssetCheckSpec]:
    descriptions = {
        COVERAGE: "Every row the workflow should process has a result under the current "
        "version of each node (rows outside `where` count as done).",
        FAILURE_RATE: "At most `resources.checks.config.max_failure_rate` (default "
        f"{DEFAULT_MAX_FAILURE_RATE:.0%}) of the processed rows failed.",
        VALIDITY: "Every stored output value has its declared type"
        + (
            " and passes the column's own rule ("
            + ", ".join(column for wf, column in RULES if wf == workflow.name)
            + ")"
            if any(wf == workflow.name for wf, _ in RULES)
            else ""
        )
        + ".",
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
        yield from results(workflow, found, checks.max_failure_rate)

    return check
