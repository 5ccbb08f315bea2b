"""A price before the run: what ``enrich`` would process, call and spend, calling nothing.

The plan reuses the run's own row selection (``select_rows`` with
``record=False``, so nothing is written) and asks each node's estimator
(:mod:`lead_pipeline.engine.estimates`) what one row would cost. Per workflow
and node it gives the rows and why (missing, failed, stale, forced), the calls
expected as a range, how many the response cache would answer, the cost range
from the price table, and a time estimate from ``parallel`` and the providers'
rate limits.

In a chain, a later workflow's rows depend on what earlier ones will write
(``founder_linkedin`` runs where ``b2b_only`` says ``is_b2b``). Rows that an
earlier workflow of the same run will process and that are outside ``where``
today are counted as *possible*: in the upper bounds, never in the lower ones.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lead_pipeline.engine.batch_lane import BATCH
from lead_pipeline.engine.compile import CompiledWorkflow
from lead_pipeline.engine.counts import LeftAlone
from lead_pipeline.engine.estimates import (
    CallEstimate,
    EstimateContext,
    estimate,
    may_call,
    reads_row,
)
from lead_pipeline.engine.options import RunOptions
from lead_pipeline.engine.selection import Selection, select_rows
from lead_pipeline.providers import PriceTable
from lead_pipeline.providers.session import configured_limits
from lead_pipeline.settings import Settings, get_settings
from lead_pipeline.store import FAILED, LeadStore

CONFIRM_ENV = "LEAD_PIPELINE_CONFIRM_ABOVE_USD"
# A Dagster run's fixed cost (docs/performance.md: 5-9 s), added once per run with work.
RUN_OVERHEAD_S = 8.0


def confirm_above_usd() -> float:
    """The cost above which ``enrich`` asks before spending (``CONFIRM_ENV``, default $1)."""
    return float(get_settings().confirm_above_usd)


@dataclass
class NodePlan:
    node: str
    type: str
    provider: str | None = None
    rows: int = 0  # rows that reach this node for certain
    rows_possible: int = 0  # rows that may reach it (earlier nodes or workflows decide)
    calls_min: int = 0
    calls_max: int = 0
    cached: int = 0
    cost_min: float = 0.0
    cost_max: float = 0.0
    estimated: bool = True  # False: the node type has no estimate
    seconds_min: float = 0.0
    seconds_max: float = 0.0
    latency_s: float = 0.0  # one call's typical seconds, as the node type estimates it
    requests_per_second: float | None = None  # the provider's documented pace
    # llm nodes: the lane its calls and cost are in, and the cost in the other lane.
    lane: str | None = None
    other_cost_min: float = 0.0
    other_cost_max: float = 0.0

    def add(self, est: CallEstimate, *, known_inputs: bool, rows: int = 1) -> None:
        """Count ``rows`` rows' estimate: in both bounds when their inputs are known, else
        the upper."""
        if known_inputs:
            self.rows += rows
            self.calls_min += est.calls_min * rows
            self.cost_min += est.cost_min * rows
            self.other_cost_min += est.other_cost_min * rows
            self.cached += est.cached * rows
        else:
            self.rows_possible += rows
        self.calls_max += est.calls_max * rows
        self.cost_max += est.cost_max * rows
        self.other_cost_max += est.other_cost_max * rows
        self.lane = self.lane or est.lane
        self.provider = self.provider or est.provider
        self.requests_per_second = self.requests_per_second or est.requests_per_second
        self.estimated = self.estimated and est.known
        self.latency_s = est.latency_s


@dataclass
class WorkflowPlan(LeftAlone):
    """One workflow's plan: the rows it would process by reason, those it would leave alone
    (``engine/counts.py``), and each node's calls and cost."""

    workflow: str
    total_rows: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    possible: int = 0
    saved_max: float = 0.0  # what the rows outside where would cost, at most
    nodes: list[NodePlan] = field(default_factory=list)
    row_ids: set[str] = field(default_factory=set)  # rows it may (re)process
    # The selection the plan was made from (nothing recorded): the launch reuses it to
    # decide "nothing to do" instead of selecting every row again.
    selection: Selection | None = field(default=None, repr=False)

    @property
    def rows(self) -> int:
        return sum(self.reasons.values())

    @property
    def cost_min(self) -> float:
        return sum(n.cost_min for n in self.nodes)

    @property
    def cost_max(self) -> float:
        return sum(n.cost_max for n in self.nodes)

    @property
    def calls_max(self) -> int:
        return sum(n.calls_max for n in self.nodes)


@dataclass
class RunPlan:
    lead_list: str
    parallel: int
    workflows: list[WorkflowPlan] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    # Models and providers with no known price: their calls are in the total at $0.
    unpriced: list[str] = field(default_factory=list)

    @property
    def cost_min(self) -> float:
        return sum(w.cost_min for w in self.workflows)

    @property
    def cost_max(self) -> float:
        return sum(w.cost_max for w in self.workflows)

    @property
    def selections(self) -> dict[str, Selection]:
        """Each planned workflow's selection, for the launch (``enrich(selected=...)``)."""
        return {w.workflow: w.selection for w in self.workflows if w.selection is not None}

    @property
    def has_work(self) -> bool:
        return any(w.rows or w.possible for w in self.workflows)

    @property
    def seconds_min(self) -> float:
        nodes = [n for w in self.workflows for n in w.nodes]
        work = any(w.rows for w in self.workflows)
        return sum(n.seconds_min for n in nodes) + (RUN_OVERHEAD_S if work else 0.0)

    @property
    def seconds_max(self) -> float:
        nodes = [n for w in self.workflows for n in w.nodes]
        return sum(n.seconds_max for n in nodes) + (RUN_OVERHEAD_S if self.has_work else 0.0)

    @property
    def batched(self) -> bool:
        """Whether an llm node with work asks in the batch lane (answered after the run)."""
        return any(
            n.lane == BATCH and (n.rows or n.rows_possible) for w in self.workflows for n in w.nodes
        )

    @property
    def unestimated(self) -> list[str]:
        return [
            f"{w.workflow}.{n.node} ({n.type})"
            for w in self.workflows
            for n in w.nodes
            if not n.estimated and (n.rows or n.rows_possible)
        ]


def _rate(node: NodePlan, settings: Settings) -> float | None:
    """Requests per second for the node's provider: configured, else its documented pace."""
    if node.provider is None:
        return None
    limit = configured_limits(settings).get(node.provider)
    if limit is not None and limit.requests_per_second:
        return limit.requests_per_second
    return node.requests_per_second


def _seconds(calls: int, node: NodePlan, parallel: int, settings: Settings) -> float:
    """The longer of the two bounds a run meets: rows in flight and the provider's pace.
    Questions sent as batches take none of the run's time: they are answered after it."""
    if calls == 0 or node.lane == BATCH:
        return 0.0
    latency = node.latency_s * calls / parallel
    rate = _rate(node, settings)
    return max(latency, calls / rate if rate else 0.0)


def _reason(workflow: CompiledWorkflow, found: Mapping[Any, Any], start: int, force: bool) -> str:
    if force:
        return "forced"
    result = found.get((workflow.name, workflow.nodes[start].id))
    if result is None:
        return "missing"
    return "failed" if result.status == FAILED else "stale"


def plan_workflow(
    store: LeadStore,
    workflow: CompiledWorkflow,
    lead_list: str,
    options: RunOptions,
    *,
    settings: Settings,
    upstream_rows: set[str] | None = None,
    prices: PriceTable | None = None,
) -> WorkflowPlan:
    """One workflow's plan; ``upstream_rows`` are rows earlier workflows of the run may change.

    ``settings`` say which providers have keys, their pace and their prices."""
    selection = select_rows(store, workflow, lead_list, options, record=False)
    starts = {w.row_id: w.start for w in selection.work}
    # Only the rows this run may process are read: their values when something here
    # looks at them (a ``when``, the ``where`` of rows an earlier workflow may change,
    # an estimate that reads the row: an LLM prompt's length, a search query), their
    # results to say why. Reading a finished 100,000-row list's every result took 55%
    # of a plain ``enrich`` with nothing to do (issue 22).
    # A row's values are looked at only by the node it starts at (later nodes' inputs
    # are not known yet), so rows starting at a node with no ``when`` and an estimate
    # that ignores the row are not read: on a first run of b2b_only, none are.
    upstream = set(upstream_rows or ()) if workflow.where is not None else set()
    looks = {node.index for node in workflow.nodes if node.when is not None or reads_row(node)}
    wanted = {row_id for row_id, start in starts.items() if start in looks} | upstream
    values = store.row_values(lead_list, _narrowed(wanted, selection.total_rows)) if wanted else {}
    results = (
        store.results(lead_list, [workflow.name], _narrowed(set(starts), selection.total_rows))
        if starts and not options.force
        else {}
    )
    params = workflow.params(options.params)
    plan = WorkflowPlan(
        workflow=workflow.name,
        total_rows=selection.total_rows,
        up_to_date=selection.up_to_date,
        not_eligible=selection.not_eligible,
        held_back=selection.held_back,
        selection=selection,
    )
    for work in selection.work:
        plan.reasons[
            _reason(workflow, results.get(work.row_id, {}), work.start, options.force)
        ] += 1
    possible: list[str] = []
    if upstream and workflow.where is not None:
        for row_id in sorted(upstream - set(starts)):
            if row_id in values and not workflow.where.evaluate(values[row_id], params):
                possible.append(row_id)
        if options.limit is not None:
            possible = possible[: max(0, options.limit - len(starts))]
    plan.possible = len(possible)
    plan.row_ids = set(starts) | set(possible)
    context = EstimateContext(
        prices=prices or PriceTable(settings.prices),
        cache=store,
        params=params,
        settings=settings,
        lane=options.lane,
    )
    by_start = Counter(starts.values())
    for node in workflow.nodes:
        node_plan = NodePlan(node=node.id, type=node.spec.type)
        # Rows whose inputs to this node an earlier node or workflow of the run computes:
        # they count in the upper bounds only.
        unknown = len(possible) + sum(n for start, n in by_start.items() if start < node.index)
        if node.index in looks:
            for row_id, start in starts.items():
                if start == node.index:
                    # Earlier nodes are up to date: this node's inputs are known now.
                    row = values.get(row_id, {})
                    if node.when is not None and not node.when.evaluate(row, params):
                        continue
                    node_plan.add(estimate(node, row, context), known_inputs=True)
        elif by_start[node.index]:
            # No ``when`` and an estimate that ignores the row: one estimate for them all
            # (per row, it was half of a 100,000-row first run's plan: issue 22).
            node_plan.add(estimate(node, {}, context), known_inputs=True, rows=by_start[node.index])
        if unknown:
            node_plan.add(estimate(node, None, context), known_inputs=False, rows=unknown)
        node_plan.seconds_min = _seconds(
            node_plan.calls_min - node_plan.cached, node_plan, options.parallel, settings
        )
        node_plan.seconds_max = _seconds(node_plan.calls_max, node_plan, options.parallel, settings)
        plan.nodes.append(node_plan)
    if plan.not_eligible:
        # What the rows outside ``where`` would cost if they were processed (each at the
        # upper bound of a row whose inputs are unknown): the money the filter saves, e.g.
        # ``where: "not in_crm"`` on the companies the CRM already has.
        per_row = sum(estimate(node, None, context).cost_max for node in workflow.nodes)
        plan.saved_max = per_row * plan.not_eligible
    return plan


def _narrowed(row_ids: set[str], total_rows: int) -> list[str] | None:
    """``row_ids`` to read by id, or None to read the whole list when they are most of it
    (one scan is cheaper than a query per 500 ids)."""
    return sorted(row_ids) if 2 * len(row_ids) < total_rows else None


def may_cost(
    workflows: Sequence[CompiledWorkflow],
    options_for: Callable[[CompiledWorkflow], RunOptions],
    *,
    settings: Settings,
) -> bool:
    """Whether a node of ``workflows`` may call a provider, as its estimator says.

    A run of workflows that call nothing (``expression``, the offline classifier, an
    ``llm`` node with no backend configured) cannot cost anything, so it needs no plan
    to price it: reading the list for one took seconds on a big list (issue 22).
    """
    prices = PriceTable(settings.prices)
    for workflow in workflows:
        context = EstimateContext(
            prices=prices,
            cache=None,
            params=workflow.params(options_for(workflow).params),
            settings=settings,
            lane=options_for(workflow).lane,
        )
        if any(may_call(node, context) for node in workflow.nodes):
            return True
    return False


def plan_run(
    store: LeadStore,
    lead_list: str,
    workflows: Sequence[CompiledWorkflow],
    options_for: Callable[[CompiledWorkflow], RunOptions],
    *,
    settings: Settings,
    skipped: Mapping[str, str] | None = None,
    prices: PriceTable | None = None,
) -> RunPlan:
    """The plan of a run of ``workflows`` (in dependency order) on ``lead_list``; writes nothing."""
    store.require_list(lead_list)
    prices = prices or PriceTable(settings.prices)
    first = options_for(workflows[0]) if workflows else RunOptions()
    run = RunPlan(lead_list=lead_list, parallel=first.parallel, skipped=dict(skipped or {}))
    planned: dict[str, WorkflowPlan] = {}
    for workflow in workflows:
        upstream: set[str] = set()
        for need in workflow.spec.needs:
            if need in planned:
                upstream |= planned[need].row_ids
        plan = plan_workflow(
            store,
            workflow,
            lead_list,
            options_for(workflow),
            settings=settings,
            upstream_rows=upstream,
            prices=prices,
        )
        planned[workflow.name] = plan
        run.workflows.append(plan)
    run.unpriced = sorted(prices.unpriced)
    return run


def _usd(low: float, high: float) -> str:
    if abs(high - low) < 5e-5:
        return f"${high:.4f}"
    return f"${low:.4f}-${high:.4f}"


def _range(low: float, high: float) -> str:
    return f"{low:g}" if low == high else f"{low:g}-{high:g}"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def render_plan(plan: RunPlan) -> list[str]:
    """The plan as text lines, for the terminal and the Dagster event log alike."""
    lines = [f"Plan for lead list {plan.lead_list!r} (no provider was called):"]
    for wf in plan.workflows:
        why = ", ".join(f"{n} {r}" for r, n in sorted(wf.reasons.items())) or "none"
        head = f"{wf.workflow}: {wf.rows} of {wf.total_rows} rows to process ({why})"
        outside = f"{wf.not_eligible} outside where"
        if wf.saved_max > 0:
            outside += f" (not spent on them: up to {_usd(wf.saved_max, wf.saved_max)})"
        extra = [f"{wf.up_to_date} up to date", outside]
        if wf.held_back:
            extra.append(f"{wf.held_back} held back by --limit")
        if wf.possible:
            extra.append(f"up to {wf.possible} more once earlier workflows have run")
        lines.append(f"{head}; {', '.join(extra)}")
        if not (wf.rows or wf.possible):
            continue
        lines.append(
            f"  {'node':<18} {'provider':<14} {'rows':>9} {'calls':>11} {'cached':>7}  cost"
        )
        for n in wf.nodes:
            rows = f"{n.rows}" + (f"+{n.rows_possible}" if n.rows_possible else "")
            cost = _usd(n.cost_min, n.cost_max) if n.estimated else "unknown (no estimator)"
            lines.append(
                f"  {n.node:<18} {n.provider or '-':<14} {rows:>9} "
                f"{_range(n.calls_min, n.calls_max):>11} {n.cached:>7}  {cost}"
            )
            if n.lane is not None and n.estimated and max(n.cost_max, n.other_cost_max) > 0:
                # What the other lane would cost: a batch answer costs half the synchronous
                # price (unless LEAD_PIPELINE_PRICES prices "<model>:batch" itself). The
                # node's cost above, and the totals, are in the lane this run takes.
                other = _usd(n.other_cost_min, n.other_cost_max)
                sync, batch = (other, cost) if n.lane == BATCH else (cost, other)
                lines.append(
                    f"  {'':<18} lane sync: {sync}, answered during the run; lane batch: "
                    f"{batch}, answered within 24 h; this run: {n.lane} (--lane sync|batch)"
                )
    for name, reason in plan.skipped.items():
        lines.append(f"skipped {name}: {reason}")
    if plan.has_work:
        lines.append(
            f"Total: {_usd(plan.cost_min, plan.cost_max)}, about "
            f"{_duration(plan.seconds_min)}-{_duration(plan.seconds_max)} at --parallel "
            f"{plan.parallel}"
            + (", then the LLM batches' wait (within 24 h)" if plan.batched else "")
            + " (token prices from genai-prices; LEAD_PIPELINE_PRICES overrides)"
        )
        if plan.unestimated:
            lines.append(f"Not priced: {', '.join(plan.unestimated)}")
        if plan.unpriced:
            lines.append(
                f"No price known for {', '.join(map(repr, plan.unpriced))}: counted as $0 "
                "above, and --max-cost cannot limit them; give them a price in "
                "LEAD_PIPELINE_PRICES"
            )
    else:
        lines.append("Nothing to process: every row is up to date.")
    return lines
