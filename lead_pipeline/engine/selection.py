"""Which rows a run processes, and how they are cut into shards.

Selection is where re-runs become cheap: a row whose node results are ok under
the same configuration hash is not touched, and a row whose node k went stale
resumes at node k with the earlier nodes' outputs reused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from lead_pipeline.engine.compile import CompiledWorkflow
from lead_pipeline.engine.options import RunOptions
from lead_pipeline.engine.registry import UNCONFIGURED_NOTE
from lead_pipeline.store import FAILED, OK, SKIPPED, LeadStore, NodeResult
from lead_pipeline.store.lead_store import utcnow


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
class Selection:
    lead_list: str
    workflow: str
    work: list[RowWork] = field(default_factory=list)
    up_to_date: int = 0
    not_eligible: int = 0
    held_back: int = 0
    left_alone: int = 0  # retry_failed: rows whose last attempt did not fail
    total_rows: int = 0
    store_run_id: int | None = None
    started_at: float = 0.0


def _start_node(
    workflow: CompiledWorkflow, found: dict[tuple[str, str], NodeResult], force: bool
) -> int | None:
    """The first node that must run for this row, or None when the row is done."""
    if force:
        return 0
    for node in workflow.nodes:
        result = found.get((workflow.name, node.id))
        if (
            result is None
            or result.status not in (OK, SKIPPED)
            or result.config_hash != node.config_hash
        ):
            return node.index
        if (
            result.status == SKIPPED
            and result.error == UNCONFIGURED_NOTE
            and node.node_type.is_available(node.config)
        ):
            return node.index  # skipped for want of a key, and the key is there now
    return None


def _failed(workflow: CompiledWorkflow, found: dict[tuple[str, str], NodeResult]) -> bool:
    return any(
        (r := found.get((workflow.name, n.id))) is not None and r.status == FAILED
        for n in workflow.nodes
    )


def select_rows(
    store: LeadStore,
    workflow: CompiledWorkflow,
    lead_list: str,
    options: RunOptions,
    *,
    record: bool = True,
) -> Selection:
    """Decide each row's fate, recording rows outside ``where`` as skipped.

    ``record=False`` decides without writing anything (the ``--plan`` preview).

    By default a run processes rows that are missing, failed or stale;
    ``retry_failed`` narrows it to rows whose last attempt failed, ``force``
    widens it to every eligible row, and ``limit`` keeps the first N.
    """
    store.require_list(lead_list)
    params = workflow.params(options.params)
    values = store.row_values(lead_list)
    results = store.results(lead_list, [workflow.name])
    selection = Selection(lead_list=lead_list, workflow=workflow.name, total_rows=len(values))
    skipped: list[NodeResult] = []
    now = utcnow()
    for row_id, row in values.items():
        found = results.get(row_id, {})
        if workflow.where is not None and not workflow.where.evaluate(row, params):
            selection.not_eligible += 1
            for node in workflow.nodes:
                previous = found.get((workflow.name, node.id))
                if previous is None or previous.status != SKIPPED:
                    skipped.append(
                        NodeResult(
                            lead_list=lead_list,
                            row_id=row_id,
                            workflow=workflow.name,
                            node=node.id,
                            node_index=node.index,
                            status=SKIPPED,
                            config_hash=node.config_hash,
                            error=f"where is false: {workflow.spec.where}",
                            started_at=now,
                            finished_at=now,
                            duration_s=0.0,
                        )
                    )
            continue
        if options.retry_failed and not _failed(workflow, found):
            selection.left_alone += 1
            continue
        start = _start_node(workflow, found, options.force)
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


def make_shards(selection: Selection, options: RunOptions) -> list[Shard]:
    """Cut the work into at most ``max_shards`` steps, rows in proportion to slots.

    ``parallel`` slots are split across shards first; each shard then takes a
    share of rows proportional to its slots, so every slot has the same number
    of rows to get through and no shard finishes long after the others.
    """
    rows = selection.work
    if not rows:
        return []
    count = min(options.max_shards, math.ceil(len(rows) / options.shard_size), options.parallel)
    count = max(count, 1)
    slots = [
        options.parallel // count + (1 if i < options.parallel % count else 0) for i in range(count)
    ]
    shards: list[Shard] = []
    start = 0
    for index, shard_slots in enumerate(slots):
        end = (
            len(rows)
            if index == count - 1
            else start + round(len(rows) * shard_slots / options.parallel)
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
