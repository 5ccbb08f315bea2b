"""The async row runner: one shard's rows, ``slots`` at a time, nodes in order.

Every node result is committed before the row's next node starts, so a crash
loses at most the node each in-flight row was running; the results of rows in
flight share commits (``store/committer.py``). A row's failure is
recorded and the shard goes on: only the rows themselves carry errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lead_pipeline.engine.batch_lane import Submitted, Waiting, WaitsOnBatch, submit
from lead_pipeline.engine.compile import CompiledNode, CompiledWorkflow
from lead_pipeline.engine.options import RunOptions
from lead_pipeline.engine.registry import NodeCall, NodeError, NodeOutcome
from lead_pipeline.engine.runlock import LockKeeper, LockLost
from lead_pipeline.engine.selection import (
    RowWork,
    Shard,
    base_values,
    results_read,
    stale_reason,
    values_at,
)
from lead_pipeline.engine.services import Services, open_services
from lead_pipeline.engine.summary import ShardSummary
from lead_pipeline.providers.budget import metered
from lead_pipeline.providers.calls import recording
from lead_pipeline.settings import Settings, get_settings
from lead_pipeline.store import FAILED, OK, SKIPPED, LeadStore, NodeResult, StoreUnwritable
from lead_pipeline.store.committer import GroupCommitter, group_commit
from lead_pipeline.store.shared import utcnow
from lead_pipeline.workflows.inputs import MISSING_INPUT_NOTE, WHEN_FALSE_NOTE
from lead_pipeline.workflows.outputs import InvalidOutput

log = logging.getLogger(__name__)

# Rows in flight per shard for a workflow whose nodes all run inline (expression,
# classifier, founder extraction). ``parallel`` bounds how many rows wait on providers at
# once; such a workflow waits on none, only on its commits, and a row waits for the
# commit holding its result before its next node or row. With 5 rows in flight, every
# commit held 2 or 3 results and the shard spent its time committing; with 64, a
# 100,000-row list took 17.8 s through Dagster instead of 36.8 s (docs/performance.md).
INLINE_ROWS_IN_FLIGHT = 64


def _check_outputs(node: CompiledNode, outputs: dict[str, Any]) -> dict[str, Any]:
    """Keep declared columns only, and refuse a value that breaks its declaration.

    One validator (``workflows.outputs``) built from the node's declared
    outputs: the type, the constraints, and no NaN or infinity anywhere. A
    node that returns a string for a boolean, or a confidence of 7, would
    poison every later ``where`` and export; it fails the row instead.
    """
    try:
        return node.validator.check(outputs)
    except InvalidOutput as exc:
        raise NodeError(f"invalid output {exc}") from None


@dataclass
class _RowState:
    work: RowWork
    values: dict[str, Any]
    # This workflow's stored results for the row: a later node whose inputs came
    # out the same as before keeps its result instead of running again.
    found: dict[tuple[str, str], NodeResult] = field(default_factory=dict)
    cost: float = 0.0
    failed: bool = False
    error: str | None = None
    waiting: bool = False  # its question joined the shard's LLM batch


class ShardRunner:
    """Runs one shard; owns nothing but the shard's counters."""

    def __init__(
        self,
        store: LeadStore,
        workflow: CompiledWorkflow,
        shard: Shard,
        options: RunOptions,
        settings: Settings,
        *,
        lock: LockKeeper | None = None,
        clock: Callable[[], datetime] = utcnow,
        run_key: str | None = None,
    ) -> None:
        self.store = store
        self.run_key = run_key  # the run whose cost cap this shard shares
        self.settings = settings
        self.workflow = workflow
        self.shard = shard
        self.options = options
        self.params = workflow.params(options.params)
        self.summary = ShardSummary(shard=shard.index, rows=len(shard.rows))
        self.lock = lock
        self._committer: GroupCommitter
        self._unwritable: StoreUnwritable | None = None  # the store refused a write: stop
        # Questions of rows that reached an llm node in the batch lane: submitted together
        # once every row of the shard has run as far as it can.
        self.waiting: list[Waiting] = []
        self.clock = clock  # when results are stamped; tests move it, never sleep
        # Nodes that call no provider under these settings: nothing of theirs to record.
        self.inline = {node.id for node in workflow.nodes if node.runs_inline(settings)}

    @property
    def rows_in_flight(self) -> int:
        """The shard's slots, or :data:`INLINE_ROWS_IN_FLIGHT` when no node waits on anything."""
        if len(self.inline) == len(self.workflow.nodes):
            return max(self.shard.slots, INLINE_ROWS_IN_FLIGHT)
        return self.shard.slots

    async def run(self) -> ShardSummary:
        started = time.perf_counter()
        values = await asyncio.to_thread(self._starting_values)
        queue: asyncio.Queue[RowWork] = asyncio.Queue()
        for work in self.shard.rows:
            queue.put_nowait(work)
        async with (
            open_services(
                self.store, self.options, self.shard, self.settings, self.run_key
            ) as services,
            group_commit(self.store.record_results) as self._committer,
        ):
            keeper = asyncio.create_task(self.lock.keep()) if self.lock is not None else None
            try:
                workers = [
                    asyncio.create_task(self._worker(queue, values, services))
                    for _ in range(min(self.rows_in_flight, len(self.shard.rows)))
                ]
                await asyncio.gather(*workers)
                self.summary.budget_waits = services.budget.waits
                if self.waiting and self._unwritable is None:
                    self.summary.submitted = await asyncio.to_thread(self._submit, services)
            finally:
                if keeper is not None:
                    keeper.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await keeper
        if self._unwritable is not None:
            raise self._unwritable
        if self.lock is not None and self.lock.lost:
            raise LockLost(self.lock.lost_message())
        self.summary.duration_s = time.perf_counter() - started
        return self.summary

    def _submit(self, services: Services) -> Submitted:
        return submit(
            self.store,
            self.workflow.name,
            self.shard.lead_list,
            self.waiting,
            settings=self.settings,
            budget=services.budget,
            run_key=self.run_key,
        )

    def _starting_values(
        self,
    ) -> dict[str, tuple[dict[str, Any], dict[tuple[str, str], NodeResult]]]:
        """Each row's values as its first node to run sees them (see ``selection``),
        and the row's stored results of this workflow."""
        ids = [w.row_id for w in self.shard.rows]
        rows = self.store.mapped_rows(self.shard.lead_list, ids)
        # The results the values come from, as selection read them: not every workflow's.
        found = self.store.results(self.shard.lead_list, results_read(self.workflow), ids)
        starts = {w.row_id: w.start for w in self.shard.rows}
        out: dict[str, tuple[dict[str, Any], dict[tuple[str, str], NodeResult]]] = {}
        for row in rows:
            mine = found.get(row.row_id, {})
            base = base_values(row, mine, self.workflow.name)
            own = {key: r for key, r in mine.items() if key[0] == self.workflow.name}
            out[row.row_id] = (values_at(self.workflow, base, mine, starts[row.row_id]), own)
        return out

    async def _worker(
        self,
        queue: asyncio.Queue[RowWork],
        values: dict[str, tuple[dict[str, Any], dict[tuple[str, str], NodeResult]]],
        services: Services,
    ) -> None:
        # A fixed pool of workers pulling from a queue keeps exactly ``slots``
        # rows in flight without creating one task per row up front.
        while True:
            try:
                work = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            lost = self.lock is not None and self.lock.lost
            if services.budget.exhausted or lost or self._unwritable is not None:
                self.summary.not_started += 1
                continue
            row_values, found = values.get(work.row_id, ({}, {}))
            state = _RowState(work=work, values=dict(row_values), found=found)
            try:
                await self._run_row(state, services)
            except StoreUnwritable as exc:  # no later row could be saved: stop paying for them
                self._unwritable = exc
                self.summary.not_started += 1
                continue
            except Exception as exc:  # a bug in a node type must not kill the shard
                log.exception("row %s crashed", work.row_id)
                state.failed, state.error = True, f"internal error: {type(exc).__name__}"
            if state.waiting:
                self.summary.waiting += 1
                self.summary.cost += state.cost
                continue
            self.summary.add_row(state.failed, state.cost, state.error)

    async def _run_row(self, state: _RowState, services: Services) -> None:
        now = self.clock()
        for node in self.workflow.nodes[state.work.start :]:
            previous = state.found.get((self.workflow.name, node.id))
            if (
                node.index > state.work.start
                and not self.options.force
                and stale_reason(node, previous, state.values, self.params, now) is None
            ):
                # Same configuration, same inputs as when it last ran: the result stands.
                assert previous is not None
                if previous.status == OK and previous.outputs:
                    state.values.update(previous.outputs)
                continue
            started_at, t0 = self.clock(), time.perf_counter()
            made = None
            status, outcome, error = OK, NodeOutcome(outputs={}), None
            # What the node's provider calls cost, as the ledger settled them: kept on
            # its result whether it succeeds, fails or writes an invalid output.
            spent = 0.0
            inputs = node.inputs
            if node.when is not None and not node.when.evaluate(state.values, self.params):
                status = SKIPPED
                outcome.note = f"{WHEN_FALSE_NOTE}: {node.spec.when}"
                input_hash = inputs.when_hash(state.values, self.params)
            elif (missing := inputs.missing(state.values)) is not None:
                status = SKIPPED
                outcome.note = f"{MISSING_INPUT_NOTE}: {missing}"
                input_hash = inputs.body_hash(state.values, self.params)
            else:
                input_hash = inputs.body_hash(state.values, self.params)
                try:
                    # Only what the node reads: what it cannot see, its result cannot
                    # depend on, so the input hash covers everything it used.
                    call = NodeCall(
                        row_id=state.work.row_id,
                        values=inputs.view(state.values),
                        params=inputs.param_view(self.params),
                        config=node.config,
                        outputs=node.spec.outputs,
                        services=services,
                    )
                    with metered() as meter:
                        try:
                            if node.id in self.inline:  # calls no provider: nothing to record
                                outcome = await node.node_type.run(call)
                            else:
                                with recording() as made:
                                    outcome = await node.node_type.run(call)
                        finally:
                            spent = meter.total
                    if outcome.skipped:
                        status = SKIPPED
                    else:
                        outcome.outputs = _check_outputs(node, outcome.outputs)
                except WaitsOnBatch as wait:
                    # No result yet: the row stops here and its question joins the batch.
                    self.waiting.append(
                        Waiting(
                            row_id=state.work.row_id,
                            node=node.id,
                            node_index=node.index,
                            config_hash=node.config_hash,
                            input_hash=input_hash,
                            question=wait.question,
                        )
                    )
                    state.waiting = True
                    return
                except NodeError as exc:
                    status, error = FAILED, services.redact(str(exc))
                except Exception as exc:
                    status, error = FAILED, services.redact(f"{type(exc).__name__}: {exc}")
            state.cost += spent
            result = NodeResult(
                lead_list=self.shard.lead_list,
                row_id=state.work.row_id,
                workflow=self.workflow.name,
                node=node.id,
                node_index=node.index,
                status=status,
                config_hash=node.config_hash,
                input_hash=input_hash,
                outputs=outcome.outputs if status == OK else None,
                error=error if status == FAILED else outcome.note,
                started_at=started_at,
                finished_at=self.clock(),
                duration_s=time.perf_counter() - t0,
                cost=spent,
                provider=outcome.provider,
                calls=None if made is None else made.as_json(),
                evidence=outcome.evidence if status == OK else None,
                unsupported=outcome.unsupported if status == OK else None,
            )
            # Durable before the next node starts, so a crash loses at most the nodes in
            # flight. The commit is shared with the other rows' results that arrive meanwhile.
            try:
                await self._committer.record(result)
            except Exception as exc:
                if status == FAILED:
                    raise
                # The store refused what the validator let through: record the row as
                # failed with the reason, so the store and the run's counts agree.
                log.exception("row %s: storing node %s's result failed", state.work.row_id, node.id)
                status = FAILED
                error = services.redact(f"could not store the result: {type(exc).__name__}: {exc}")
                result = dataclasses.replace(result, status=FAILED, outputs=None, error=error)
                await self._committer.record(result)
            if status == FAILED:
                state.failed, state.error = True, f"{node.id}: {error}"
                return
            if status == OK:
                state.values.update(outcome.outputs)


def run_shard(
    store: LeadStore,
    workflow: CompiledWorkflow,
    shard: Shard,
    options: RunOptions,
    *,
    settings: Settings | None = None,
    lock: LockKeeper | None = None,
    clock: Callable[[], datetime] = utcnow,
    run_key: str | None = None,
) -> ShardSummary:
    """Run a shard to completion from synchronous code (a Dagster op, a benchmark).

    ``settings`` configure the providers (pacing, retries, keys); the Dagster op
    passes its own, a script or a test may leave them to the environment's.
    With ``lock``, the run's lock is heartbeated while the rows run; if another
    run takes it over, no further row starts and :class:`LockLost` is raised.
    ``run_key`` (the Dagster run id) names the ledger in the store that every
    shard and workflow of the run reserves its paid calls against.
    """
    runner = ShardRunner(
        store,
        workflow,
        shard,
        options,
        settings or get_settings(),
        lock=lock,
        clock=clock,
        run_key=run_key,
    )
    return asyncio.run(runner.run())
