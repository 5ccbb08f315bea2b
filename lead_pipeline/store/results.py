"""Node results: what each node decided for each row, and the counts made from them.

Results are written in batches (``committer.py`` hands them over: one commit
for every row in flight) and counted in SQL, since the CLI polls the counts
every second while a run writes thousands of results.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, case, func, select

from lead_pipeline.store.lists import LeadLists
from lead_pipeline.store.records import (
    FAILED,
    SKIPPED,
    FailedRow,
    ListStatus,
    NodeResult,
    WorkflowStatus,
)
from lead_pipeline.store.schema import leads, llm_batch_requests, llm_batches, node_results, runs
from lead_pipeline.store.shared import StorePart, aware


class NodeResults(StorePart):
    """Write and read node results; per-workflow and per-run counts; failures."""

    def __init__(self, engine: Engine, lists: LeadLists) -> None:
        super().__init__(engine)
        self.lists = lists

    @functools.cached_property
    def _upsert(self) -> Any:
        """The results upsert, built once: building it (every column's ``excluded`` proxy)
        cost more than executing it for a commit of a few results."""
        stmt = self._insert(node_results)
        excluded = stmt.excluded
        return stmt.on_conflict_do_update(
            index_elements=["lead_list", "row_id", "workflow", "node"],
            set_={
                "node_index": excluded.node_index,
                "status": excluded.status,
                "outputs": excluded.outputs,
                "error": excluded.error,
                "attempts": node_results.c.attempts + 1,
                "started_at": excluded.started_at,
                "finished_at": excluded.finished_at,
                "duration_s": excluded.duration_s,
                # Every attempt's paid calls stay counted: a retry adds, never erases.
                "cost": node_results.c.cost + excluded.cost,
                "config_hash": excluded.config_hash,
                "input_hash": excluded.input_hash,
                "provider": excluded.provider,
                "calls": excluded.calls,
                "evidence": excluded.evidence,
                "unsupported": excluded.unsupported,
            },
        )

    def record_result(self, result: NodeResult) -> None:
        """Save one node's outcome; attempts count every write for the same key."""
        self.record_results([result])

    def record_results(self, results: Sequence[NodeResult]) -> None:
        """Save a batch of node outcomes in one transaction: all of them or none."""
        if not results:
            return
        values = [
            {
                "lead_list": r.lead_list,
                "row_id": r.row_id,
                "workflow": r.workflow,
                "node": r.node,
                "node_index": r.node_index,
                "status": r.status,
                "outputs": r.outputs,
                # PostgreSQL's text cannot hold NUL; SQLite's can: write what both keep.
                "error": None if r.error is None else r.error.replace("\x00", "\\x00"),
                "attempts": r.attempts,
                "started_at": r.started_at,
                "finished_at": r.finished_at,
                "duration_s": r.duration_s,
                "cost": r.cost,
                "config_hash": r.config_hash,
                "input_hash": r.input_hash,
                "provider": r.provider,
                "calls": r.calls,
                "evidence": r.evidence,
                "unsupported": r.unsupported,
            }
            for r in results
        ]
        stmt = self._upsert
        with self.engine.begin() as conn:
            for start in range(0, len(values), 500):
                conn.execute(stmt, values[start : start + 500])

    def results(
        self,
        name: str,
        workflows: Iterable[str] | None = None,
        row_ids: Sequence[str] | None = None,
    ) -> dict[str, dict[tuple[str, str], NodeResult]]:
        """Every stored result of a list, keyed by row, then (workflow, node).

        ``row_ids`` narrows to some rows (a shard), queried in chunks.
        """
        # Not the calls: only the row trace reads them.
        columns = [c for c in node_results.c if c.name != "calls"]
        query = select(*columns).where(node_results.c.lead_list == name)
        if workflows is not None:
            query = query.where(node_results.c.workflow.in_(list(workflows)))
        if row_ids is None:
            queries = [query]
        else:
            wanted = list(row_ids)
            queries = [
                query.where(node_results.c.row_id.in_(wanted[start : start + 500]))
                for start in range(0, len(wanted), 500)
            ]
        out: dict[str, dict[tuple[str, str], NodeResult]] = {}
        with self._reading() as conn:
            for r in (row for q in queries for row in conn.execute(q)):
                out.setdefault(r.row_id, {})[(r.workflow, r.node)] = _result(r)
        return out

    def row_results(self, name: str, row_id: str) -> list[NodeResult]:
        """Every stored result of one row with the provider calls each made (the row trace),
        by workflow and node order."""
        c = node_results.c
        query = (
            select(node_results)
            .where(c.lead_list == name, c.row_id == row_id)
            .order_by(c.workflow, c.node_index)
        )
        with self._reading() as conn:
            return [_result(r, calls=True) for r in conn.execute(query)]

    def stored_outputs(
        self, name: str, workflow: str
    ) -> Iterator[tuple[str, str, str, str, dict[str, Any] | None]]:
        """``(row_id, node, status, config_hash, outputs)`` of every result of ``workflow``.

        What the output-validity check reads, and nothing else: building a full
        :class:`NodeResult` per result (timestamps, errors) took most of that check's
        time on a 100,000-row list. Streamed, so the whole list is never in memory.
        """
        c = node_results.c
        query = select(c.row_id, c.node, c.status, c.config_hash, c.outputs).where(
            c.lead_list == name, c.workflow == workflow
        )
        with self._reading() as conn:
            for row in conn.execution_options(yield_per=2000).execute(query):
                yield row.row_id, row.node, row.status, row.config_hash, row.outputs

    def status(self, name: str, workflow_nodes: dict[str, list[str]] | None = None) -> ListStatus:
        """Per-workflow row counts: a row is ok when every node is ok or skipped.

        ``workflow_nodes`` (workflow -> node ids) makes the counts exact: a row
        that stopped mid-workflow is pending, not ok. Without it, the workflows
        seen in the results are counted by the nodes that ran. Counting happens
        in SQL: the CLI polls this every second while a run writes thousands of
        results, so it must not load them.
        """
        self.lists.require_list(name)
        total = self.lists.row_count(name)
        plan = dict(workflow_nodes or {})
        with self._reading() as conn:
            seen = conn.execute(
                select(node_results.c.workflow, node_results.c.node)
                .where(node_results.c.lead_list == name)
                .distinct()
            )
            for workflow, node in seen:
                if workflow_nodes is None or workflow not in workflow_nodes:
                    nodes = plan.setdefault(workflow, [])
                    if node not in nodes:
                        nodes.append(node)
            report = ListStatus(lead_list=name, rows=total)
            waiting = _waiting(conn, name)
            for workflow, nodes in plan.items():
                counts = self._workflow_counts(conn, name, workflow, nodes, total)
                counts.waiting = waiting.get(workflow, 0)
                counts.pending = max(0, counts.pending - counts.waiting)
                report.workflows.append(counts)
        return report

    def run_counts(self, run_id: int, nodes: list[str]) -> WorkflowStatus:
        """What run ``run_id`` has done so far: rows with a result written since it started.

        The progress bar, the run's closing summary and its record all count
        with this, so their figures are the same by construction. A row counts
        once its every node has a result (ok, failed or skipped); ``pending``
        is always 0 here.
        """
        with self._reading() as conn:
            run = conn.execute(
                select(runs.c.lead_list, runs.c.workflow, runs.c.started_at).where(
                    runs.c.id == run_id
                )
            ).one()
            counts = self._workflow_counts(
                conn, run.lead_list, run.workflow, nodes, 0, since=run.started_at
            )
        counts.pending = 0
        return counts

    def failures(
        self,
        name: str,
        workflow: str | None = None,
        *,
        run_id: int | None = None,
    ) -> list[FailedRow]:
        """Every failed node result of a list (newest first), with the row's ``name`` field.

        ``run_id`` narrows to the failures run ``run_id`` wrote (of its workflow,
        since it started), as :meth:`run_counts` counts them.
        """
        self.lists.require_list(name)
        since = None
        if run_id is not None:
            with self._reading() as conn:
                run = conn.execute(
                    select(runs.c.workflow, runs.c.started_at).where(runs.c.id == run_id)
                ).one()
            workflow, since = run.workflow, run.started_at
        query = (
            select(
                node_results.c.row_id,
                node_results.c.workflow,
                node_results.c.node,
                node_results.c.error,
                node_results.c.attempts,
                node_results.c.finished_at,
                node_results.c.cost,
                leads.c.fields,
            )
            .join(
                leads,
                and_(
                    leads.c.lead_list == node_results.c.lead_list,
                    leads.c.row_id == node_results.c.row_id,
                ),
            )
            .where(and_(node_results.c.lead_list == name, node_results.c.status == FAILED))
            .order_by(node_results.c.finished_at.desc(), leads.c.position)
        )
        if workflow is not None:
            query = query.where(node_results.c.workflow == workflow)
        if since is not None:
            query = query.where(node_results.c.finished_at >= since)
        with self._reading() as conn:
            return [
                FailedRow(
                    row_id=r.row_id,
                    name=_row_name(r.fields),
                    workflow=r.workflow,
                    node=r.node,
                    error=r.error or "",
                    attempts=r.attempts,
                    finished_at=None if r.finished_at is None else aware(r.finished_at),
                    cost=float(r.cost or 0.0),
                )
                for r in conn.execute(query)
            ]

    @staticmethod
    def _workflow_counts(
        conn: Any,
        name: str,
        workflow: str,
        nodes: list[str],
        total: int,
        *,
        since: datetime | None = None,
    ) -> WorkflowStatus:
        per_row = (
            select(
                func.sum(case((node_results.c.status == FAILED, 1), else_=0)).label("failed"),
                func.sum(case((node_results.c.status == SKIPPED, 1), else_=0)).label("skipped"),
                func.count().label("done"),
                func.sum(node_results.c.cost).label("cost"),
                func.sum(node_results.c.unsupported).label("unsupported"),
            )
            .where(
                and_(
                    node_results.c.lead_list == name,
                    node_results.c.workflow == workflow,
                    node_results.c.node.in_(nodes),
                )
            )
            .group_by(node_results.c.row_id)
        )
        if since is not None:
            per_row = per_row.having(func.max(node_results.c.finished_at) >= since)
        counted = per_row.subquery()
        n = len(nodes)
        failed, skipped, ok, cost, unsupported = conn.execute(
            select(
                func.sum(case((counted.c.failed > 0, 1), else_=0)),
                func.sum(case((and_(counted.c.failed == 0, counted.c.skipped == n), 1), else_=0)),
                func.sum(
                    case(
                        (
                            and_(
                                counted.c.failed == 0,
                                counted.c.done == n,
                                counted.c.skipped < n,
                            ),
                            1,
                        ),
                        else_=0,
                    )
                ),
                func.sum(counted.c.cost),
                func.sum(counted.c.unsupported),
            )
        ).one()
        counts = WorkflowStatus(
            workflow=workflow,
            ok=int(ok or 0),
            failed=int(failed or 0),
            skipped=int(skipped or 0),
            cost=float(cost or 0.0),
            unsupported=int(unsupported or 0),
        )
        counts.pending = total - counts.ok - counts.failed - counts.skipped
        return counts


def _waiting(conn: Any, name: str) -> dict[str, int]:
    """Rows per workflow whose llm question is in an LLM batch not yet collected."""
    requests = llm_batch_requests.c
    query = (
        select(requests.workflow, func.count(func.distinct(requests.row_id)))
        .join(llm_batches, llm_batches.c.key == requests.batch_key)
        .where(and_(requests.lead_list == name, llm_batches.c.state != "collected"))
        .group_by(requests.workflow)
    )
    return {workflow: int(count) for workflow, count in conn.execute(query)}


def _result(r: Any, *, calls: bool = False) -> NodeResult:
    return NodeResult(
        lead_list=r.lead_list,
        row_id=r.row_id,
        workflow=r.workflow,
        node=r.node,
        node_index=r.node_index,
        status=r.status,
        config_hash=r.config_hash,
        outputs=r.outputs,
        error=r.error,
        started_at=r.started_at,
        finished_at=r.finished_at,
        duration_s=r.duration_s,
        cost=r.cost,
        provider=r.provider,
        attempts=r.attempts,
        input_hash=r.input_hash,
        evidence=r.evidence,
        unsupported=r.unsupported,
        calls=r.calls if calls else None,
    )


def _row_name(fields: Any) -> str | None:
    """A row's ``name`` (or ``company``) field, to tell a person which lead a row id is."""
    if isinstance(fields, dict):
        for key in ("name", "company", "company_name"):
            value = fields.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
    return None
