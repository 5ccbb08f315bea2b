"""Which rows a run processes, and how they are cut into shards.

Selection is where re-runs become cheap: a row whose node results are ok under
the same configuration hash, from the same inputs (the hash of exactly what
each node read) and younger than the node's ``max_age`` is not touched, and a
row whose node k went stale resumes at node k with the earlier nodes' outputs
reused. A re-imported row whose description changed therefore re-runs the
nodes that read it, and a downstream workflow follows when what it reads
(``is_b2b`` in its ``where``, say) changed in turn.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from lead_pipeline.engine.compile import CompiledNode, CompiledWorkflow
from lead_pipeline.engine.counts import LeftAlone
from lead_pipeline.engine.options import RunOptions
from lead_pipeline.engine.registry import UNCONFIGURED_NOTE
from lead_pipeline.store import (
    FAILED,
    ID_COLUMN,
    OK,
    SKIPPED,
    LeadRow,
    LeadStore,
    NodeResult,
    standing,
)
from lead_pipeline.store.shared import utcnow
from lead_pipeline.store.standing import (
    AFTER_VALUES,
    BEFORE_VALUES,
    NodeRule,
    first_reason,
    skipped_for_where_python,
)
from lead_pipeline.workflows.errors import WorkflowError
from lead_pipeline.workflows.inputs import WHEN_SKIP, WHERE_FALSE_NOTE, WHERE_SKIP, digest


@dataclass(frozen=True)
class RowWork:
    """A row to process, starting at node ``start`` (earlier nodes are up to date)."""

    row_id: str
    start: int


@dataclass(frozen=True)
class Shard:
    """One Dagster step's share of a run: its rows and its rows-in-flight slots."""

    lead_list: str
    workflow: str
    index: int
    count: int
    slots: int
    rows: tuple[RowWork, ...]

    @property
    def key(self) -> str:
        return f"shard_{self.index}"


@dataclass
class Selection(LeftAlone):
    """The rows a run processes (``work``) and those it leaves alone, counted by why."""

    lead_list: str
    workflow: str
    work: list[RowWork] = field(default_factory=list)
    total_rows: int = 0
    # Rows that left the workflow's ``where``: their skipped records are written at selection.
    newly_outside: int = 0
    store_run_id: int | None = None
    started_at: float = 0.0
    # Rows whose LLM batch line failed as the run collected it: left to the next run.
    failed_in_batch: int = 0
    # How many rows ``work`` held, in a copy handed on without them (``counts_only``).
    handed_on: int | None = None

    @property
    def selected(self) -> int:
        """How many rows the run processes."""
        return len(self.work) if self.handed_on is None else self.handed_on

    @property
    def nothing_to_do(self) -> bool:
        """A run would neither process a row nor write a record: it need not start."""
        return not self.selected and not self.newly_outside

    def counts_only(self) -> Selection:
        """This selection without its rows, for the steps that need its counts alone (the
        summary): the shards carry the rows. At 100,000 rows the rows pickled to 2.7 MB,
        0.41 CPU-s to pickle and unpickle between the select and summarize steps."""
        return replace(self, work=[], handed_on=self.selected)


# Why a row must run again, as ``status`` reports it.
NEW = "new"
FAILED_BEFORE = standing.FAILED_BEFORE.reason
CONFIGURATION = standing.OTHER_CONFIGURATION.reason
INPUTS = "inputs"
AGE = standing.AGED.reason
FORCED = "forced"
STALE_REASONS = (CONFIGURATION, INPUTS, AGE)


def base_values(
    row: LeadRow, found: Mapping[tuple[str, str], NodeResult], workflow: str
) -> dict[str, Any]:
    """What ``workflow``'s first node can see of a row: its fields and other workflows'
    ok outputs (its own outputs come in node by node, as its nodes run)."""
    values = dict(row.fields)
    others = sorted(
        (r for (name, _), r in found.items() if name != workflow and r.status == OK and r.outputs),
        key=lambda r: (r.workflow, r.node_index),
    )
    for result in others:
        values.update(result.outputs or {})
    values[ID_COLUMN] = row.row_id
    return values


def values_at(
    workflow: CompiledWorkflow,
    values: Mapping[str, Any],
    found: Mapping[tuple[str, str], NodeResult],
    start: int,
) -> dict[str, Any]:
    """The values node ``start`` sees: ``values`` plus the ok outputs of the nodes before it."""
    seen = dict(values)
    for node in workflow.nodes[:start]:
        result = found.get((workflow.name, node.id))
        if result is not None and result.status == OK and result.outputs:
            seen.update(result.outputs)
    return seen


def _when_skip(result: NodeResult) -> bool:
    if result.status != SKIPPED:
        return False
    if result.input_hash is not None:
        return result.input_hash.startswith(WHEN_SKIP)
    return result.error is None  # written before skips said why: only ``when`` left none


def node_rule(node: CompiledNode) -> NodeRule:
    """What ``node``'s results are checked against, in Python here and in SQL by the
    settled-rows query: one rule (``store/standing.py``)."""
    return NodeRule(
        node=node.id,
        config_hash=node.config_hash,
        max_age=node.spec.max_age,
        unconfigured_note=UNCONFIGURED_NOTE,
        where_note=WHERE_FALSE_NOTE,
        key_now=lambda: node.node_type.is_available(node.config),
    )


def stale_reason(
    node: CompiledNode,
    result: NodeResult | None,
    values: Mapping[str, Any],
    params: Mapping[str, Any],
    now: datetime,
) -> str | None:
    """Why this node must run for this row, or None when its result stands.

    What the result alone tells is the standing rule's (``BEFORE_VALUES``, then
    ``AFTER_VALUES``); what the row's values tell (``where``, ``when``, the hash of
    what the node read) is decided here, between them."""
    if result is None:
        return NEW
    rule = node_rule(node)
    reason = first_reason(BEFORE_VALUES, result, rule, now)
    if reason is not None:
        return reason
    if skipped_for_where_python(result, WHERE_FALSE_NOTE):
        return INPUTS  # the row was outside the workflow's where and is inside it now
    if node.when is not None and not node.when.evaluate(values, params):
        return None if _when_skip(result) else INPUTS
    if _when_skip(result):
        return INPUTS  # skipped by when, which now holds
    # No hash: written before hashes were recorded, trusted until the node next runs.
    if result.input_hash is not None and result.input_hash != node.inputs.body_hash(values, params):
        return INPUTS
    return first_reason(AFTER_VALUES, result, rule, now)


def plan_row(
    workflow: CompiledWorkflow,
    values: Mapping[str, Any],
    found: Mapping[tuple[str, str], NodeResult],
    params: Mapping[str, Any],
    *,
    now: datetime,
    force: bool = False,
) -> tuple[int | None, str | None]:
    """The first node that must run for this row and why, or ``(None, None)`` when done.

    Node by node: a result stands when it is ok (or deliberately skipped) under
    the same configuration hash, from the same inputs, and not older than the
    node's ``max_age``. Each standing result's outputs feed the next node's
    check, exactly as they fed the node when it ran.
    """
    if force:
        return 0, FORCED
    seen = dict(values)
    for node in workflow.nodes:
        result = found.get((workflow.name, node.id))
        reason = stale_reason(node, result, seen, params, now)
        if reason is not None:
            return node.index, reason
        assert result is not None
        if result.status == OK and result.outputs:
            seen.update(result.outputs)
    return None, None


def _failed(workflow: CompiledWorkflow, found: Mapping[tuple[str, str], NodeResult]) -> bool:
    return any(
        (r := found.get((workflow.name, n.id))) is not None and r.status == FAILED
        for n in workflow.nodes
    )


def check_columns(workflow: CompiledWorkflow, rows: Sequence[LeadRow]) -> None:
    """Refuse, before any row runs, a column nothing provides (a misspelt ``nme``).

    What a workflow reads is known when it loads; which columns a lead list has
    only once a list is chosen, so the columns only a list can provide are
    checked here, against every column any of its rows carries.
    """
    if not workflow.list_columns:
        return
    available: set[str] = set()
    for row in rows:
        available.update(row.fields)
    problems = workflow.missing_columns(available)
    if problems:
        raise WorkflowError("\n".join(problems))


@dataclass
class RowStates:
    """The rows of a list one workflow must decide one by one, with their results.

    ``settled`` are the rest (row id -> outside ``where``): their results stand,
    as one query over timestamps showed (``store/settled.py``), without loading them.
    ``fresh`` are rows with no result of the workflow at all, of a workflow with no
    ``where``: each is work from its first node (``NEW``) whatever its values, so
    they are not loaded either; ``order`` is every row not settled, in import order.
    """

    rows: list[LeadRow]
    results: dict[str, dict[tuple[str, str], NodeResult]]
    settled: dict[str, bool] = field(default_factory=dict)
    fresh: set[str] = field(default_factory=set)
    order: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.rows) + len(self.fresh) + len(self.settled)

    def each(self) -> Iterator[tuple[str, LeadRow | None]]:
        """Every row not settled, in import order: a fresh row without its fields."""
        if not self.fresh:
            yield from ((row.row_id, row) for row in self.rows)
            return
        loaded = {row.row_id: row for row in self.rows}
        for row_id in self.order:
            yield row_id, loaded.get(row_id)


def settles_by_time(workflow: CompiledWorkflow) -> bool:
    """Whether unchanged timestamps prove a result stands: not when the workflow reads a
    parameter (its value is not recorded with the result) or a node sees the whole row."""
    if workflow.where is not None and workflow.where.params:
        return False
    return not any(
        n.inputs.whole_row or n.inputs.all_params or n.inputs.params or n.inputs.when_params
        for n in workflow.nodes
    )


def results_read(workflow: CompiledWorkflow) -> list[str] | None:
    """The workflows whose results a row's values for ``workflow`` come from: its own and
    its upstream workflows' (the only outputs its nodes may read, as the loader checks),
    or None (every workflow's) when a node sees the whole row."""
    if any(n.inputs.whole_row for n in workflow.nodes):
        return None
    return [workflow.name, *workflow.upstream]


def skips_fresh(workflow: CompiledWorkflow) -> bool:
    """Whether a row with no result of the workflow is work from its first node without
    reading it: yes unless a ``where`` must first say whether the row is eligible."""
    return workflow.where is None


def load_rows(
    store: LeadStore,
    workflow: CompiledWorkflow,
    lead_list: str,
    *,
    now: datetime,
    settle: bool = True,
) -> RowStates:
    """The rows to decide one by one; with ``settle``, the settled ones are left out.

    Only the results a row's decision reads are loaded: the workflow's own and its
    upstream workflows' (the only outputs its nodes may read, as the loader checks),
    unless a node sees the whole row. On a 100,000-row list another workflow's results
    were half the plan of a first run (issue 22).
    """
    store.require_list(lead_list)
    read = results_read(workflow)
    if settle and settles_by_time(workflow):
        found = store.settle(
            lead_list,
            workflow.name,
            [node_rule(n) for n in workflow.nodes],
            upstream=workflow.upstream,
            now=now,
        )
    elif skips_fresh(workflow):
        found = store.unsettled(lead_list, workflow.name)
    else:
        return RowStates(rows=store.mapped_rows(lead_list), results=store.results(lead_list, read))
    # Without ``where``, a row with no result is work from its first node: its fields are
    # not read (a first run of 100,000 rows read and decoded every row: issue 22).
    fresh = found.fresh if skips_fresh(workflow) else set()
    if not found.settled and not fresh:
        return RowStates(rows=store.mapped_rows(lead_list), results=store.results(lead_list, read))
    decide = [row_id for row_id in found.rest if row_id not in fresh]
    return RowStates(
        rows=store.mapped_rows(lead_list, decide) if decide else [],
        results=store.results(lead_list, read, decide) if decide else {},
        settled=found.settled,
        fresh=fresh,
        order=found.rest,
    )


def _check_columns(
    store: LeadStore, workflow: CompiledWorkflow, lead_list: str, states: RowStates
) -> None:
    """``check_columns`` over every row: the rows not loaded (settled or fresh) are read
    only when the loaded ones lack a column the workflow reads, the first of them alone
    before the whole list (the first row of a list carries its columns)."""
    if not workflow.list_columns:
        return
    try:
        check_columns(workflow, states.rows)
    except WorkflowError:
        unloaded = [row_id for row_id in states.order if row_id in states.fresh]
        unloaded += list(states.settled)
        if not unloaded:
            raise
        try:
            check_columns(workflow, [*states.rows, *store.mapped_rows(lead_list, unloaded[:1])])
        except WorkflowError:
            check_columns(workflow, store.mapped_rows(lead_list))


def stale_counts(
    store: LeadStore,
    workflow: CompiledWorkflow,
    lead_list: str,
    params: Mapping[str, Any] | None = None,
    *,
    now: datetime | None = None,
) -> Counter[str]:
    """How many eligible rows would run and why (``new``, ``failed``, ``configuration``,
    ``inputs``, ``age``), without writing anything: what ``status`` shows."""
    now = now or utcnow()
    merged = workflow.params(params)
    states = load_rows(store, workflow, lead_list, now=now)
    counts: Counter[str] = Counter()
    for _, row in states.each():
        if row is None:  # fresh: no result, no ``where``
            counts[NEW] += 1
            continue
        found = states.results.get(row.row_id, {})
        values = base_values(row, found, workflow.name)
        if workflow.where is not None and not workflow.where.evaluate(values, merged):
            continue
        _, reason = plan_row(workflow, values, found, merged, now=now)
        if reason is not None:
            counts[reason] += 1
    return counts


def select_rows(
    store: LeadStore,
    workflow: CompiledWorkflow,
    lead_list: str,
    options: RunOptions,
    *,
    record: bool = True,
    now: datetime | None = None,
) -> Selection:
    """Decide each row's fate, recording rows outside ``where`` as skipped.

    ``record=False`` decides without writing anything (the ``--plan`` preview).

    By default a run processes rows that are missing, failed or stale (another
    configuration, other inputs, older than ``max_age``); ``retry_failed``
    narrows it to rows whose last attempt failed, ``force`` widens it to every
    eligible row, ``rows`` narrows it to those ids, and ``limit`` keeps the first
    N. A row that left the ``where`` filter loses its results to a skipped record
    saying so, because an export must show what the pipeline decides now, not
    what it once did.
    ``now`` is the clock ``max_age`` is measured against (tests set it).
    """
    now = now or utcnow()
    params = workflow.params(options.params)
    states = load_rows(store, workflow, lead_list, now=now, settle=not options.force)
    _check_columns(store, workflow, lead_list, states)
    selection = Selection(lead_list=lead_list, workflow=workflow.name, total_rows=states.total)
    # --row: only the rows asked for are decided; the others are not this run's business.
    wanted = None if options.rows is None else set(options.rows)
    settled = (
        states.settled
        if wanted is None
        else {row_id: out for row_id, out in states.settled.items() if row_id in wanted}
    )
    outside = sum(settled.values())
    selection.not_eligible += outside
    if options.retry_failed:  # a settled row has no failed result: it is left alone
        selection.left_alone += len(settled) - outside
    else:
        selection.up_to_date += len(settled) - outside
    skipped: list[NodeResult] = []
    # Rows whose llm question is in an LLM batch not yet collected: neither asked again
    # nor pending; the batch's collection takes them on (``engine/batch_lane.py``).
    waiting = store.waiting_rows(lead_list, workflow.name)
    for row_id, row in states.each():
        if wanted is not None and row_id not in wanted:
            continue
        if row_id in waiting:
            selection.waiting_on_batch += 1
            continue
        if row is None:  # fresh: no result, no ``where``, so work from the first node
            if options.retry_failed:
                selection.left_alone += 1
            elif options.limit is not None and len(selection.work) >= options.limit:
                selection.held_back += 1
            else:
                selection.work.append(RowWork(row_id=row_id, start=0))
            continue
        found = states.results.get(row_id, {})
        values = base_values(row, found, workflow.name)
        if workflow.where is not None and not workflow.where.evaluate(values, params):
            selection.not_eligible += 1
            where_hash = WHERE_SKIP + digest(
                [{c: values.get(c) for c in sorted(workflow.where.columns)}]
            )
            before = len(skipped)
            for node in workflow.nodes:
                previous = found.get((workflow.name, node.id))
                if not skipped_for_where_python(previous, WHERE_FALSE_NOTE) or (
                    previous is not None and previous.config_hash != node.config_hash
                ):
                    skipped.append(
                        NodeResult(
                            lead_list=lead_list,
                            row_id=row_id,
                            workflow=workflow.name,
                            node=node.id,
                            node_index=node.index,
                            status=SKIPPED,
                            config_hash=node.config_hash,
                            input_hash=where_hash,
                            error=f"{WHERE_FALSE_NOTE}: {workflow.spec.where}",
                            started_at=now,
                            finished_at=now,
                            duration_s=0.0,
                        )
                    )
            selection.newly_outside += len(skipped) > before
            continue
        if options.retry_failed and not _failed(workflow, found):
            selection.left_alone += 1
            continue
        start, _ = plan_row(workflow, values, found, params, now=now, force=options.force)
        if start is None:
            selection.up_to_date += 1
            continue
        if options.limit is not None and len(selection.work) >= options.limit:
            selection.held_back += 1
            continue
        selection.work.append(RowWork(row_id=row_id, start=start))
    if record:
        store.record_results(skipped)
    return selection


def make_shards(selection: Selection, options: RunOptions, *, inline: bool = False) -> list[Shard]:
    """Cut the work into at most ``max_shards`` steps, rows in proportion to slots.

    ``parallel`` slots are split across shards first; each shard then takes a
    share of rows proportional to its slots, so every slot has the same number
    of rows to get through and no shard finishes long after the others. The
    shards of an ``inline`` workflow (``CompiledWorkflow.inline``) run the same
    number of rows at once whatever their slots (``engine.runner``): they take
    equal shares.
    """
    rows = selection.work
    if not rows:
        return []
    count = min(options.max_shards, math.ceil(len(rows) / options.shard_size), options.parallel)
    count = max(count, 1)
    slots = [
        options.parallel // count + (1 if i < options.parallel % count else 0) for i in range(count)
    ]
    shares = [1] * count if inline else slots
    shards: list[Shard] = []
    start = 0
    for index, shard_slots in enumerate(slots):
        end = (
            len(rows)
            if index == count - 1
            else start + round(len(rows) * shares[index] / sum(shares))
        )
        shards.append(
            Shard(
                lead_list=selection.lead_list,
                workflow=selection.workflow,
                index=index,
                count=count,
                slots=shard_slots,
                rows=tuple(rows[start:end]),
            )
        )
        start = end
    return [s for s in shards if s.rows]
