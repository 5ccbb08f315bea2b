"""The lead store: the only code in the project that speaks SQL.

Every write is a short transaction committed before the call returns, so a
killed process loses nothing already written. The engine hands node results
to ``record_results`` in batches (``committer.py``): one commit for every row
in flight, not one per result.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Engine, and_, case, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from lead_pipeline.settings import get_settings
from lead_pipeline.store import migrate
from lead_pipeline.store.connection import make_engine
from lead_pipeline.store.names import check_name
from lead_pipeline.store.records import (
    FAILED,
    OK,
    SKIPPED,
    CrmRecord,
    FailedRow,
    ImportReport,
    LeadListInfo,
    LeadRow,
    ListStatus,
    LockAttempt,
    NodeResult,
    RunLock,
    WorkflowStatus,
)
from lead_pipeline.store.schema import (
    crm_records,
    lead_lists,
    leads,
    node_results,
    response_cache,
    run_locks,
    runs,
    step_outputs,
)

ID_COLUMN = "_id"


class UnknownLeadListError(LookupError):
    """A lead list that was never imported."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    """SQLite hands timestamps back without their zone; every one we write is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def fields_digest(fields: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


class LeadStore:
    """Lead lists, their rows, node results, runs and the provider response cache."""

    def __init__(self, url: str | None = None, *, upgrade: bool = True) -> None:
        self.url = url or get_settings().db_url
        if self.url.startswith("sqlite:///"):
            from pathlib import Path

            Path(self.url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = make_engine(self.url)
        if upgrade:
            migrate.upgrade(self.engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        self.engine.dispose()

    def _insert(self, table):  # type: ignore[no-untyped-def]
        return (postgresql if self.dialect == "postgresql" else sqlite).insert(table)

    # ---- lead lists -------------------------------------------------------

    def lists(self) -> list[LeadListInfo]:
        counts = (
            select(leads.c.lead_list, func.count().label("n"))
            .group_by(leads.c.lead_list)
            .subquery()
        )
        query = (
            select(lead_lists, func.coalesce(counts.c.n, 0))
            .outerjoin(counts, counts.c.lead_list == lead_lists.c.name)
            .order_by(lead_lists.c.name)
        )
        with self.engine.connect() as conn:
            return [_list_info(r, r[-1]) for r in conn.execute(query)]

    def list_info(self, name: str) -> LeadListInfo | None:
        """One list's row count and import rules; None when it was never imported."""
        check_name(name)
        count = select(func.count()).select_from(leads).where(leads.c.lead_list == name)
        with self.engine.connect() as conn:
            row = conn.execute(
                select(lead_lists, count.scalar_subquery()).where(lead_lists.c.name == name)
            ).first()
        return None if row is None else _list_info(row, row[-1])

    def has_list(self, name: str) -> bool:
        check_name(name)
        with self.engine.connect() as conn:
            found = conn.execute(select(lead_lists.c.name).where(lead_lists.c.name == name))
            return found.first() is not None

    def require_list(self, name: str) -> None:
        if not self.has_list(name):
            known = ", ".join(info.name for info in self.lists()) or "none yet"
            raise UnknownLeadListError(
                f"lead list {name!r} does not exist (known: {known}); "
                f"import it first with: lead-pipeline import PATH --lead {name}"
            )

    def import_rows(
        self,
        name: str,
        rows: Sequence[tuple[str, dict[str, Any]]],
        *,
        source: str | None = None,
        prune: bool = False,
        field_map: dict[str, Any] | None = None,
        id_rule: str | None = None,
    ) -> ImportReport:
        """Upsert a whole file's rows in one transaction.

        Results live in another table, so re-importing never touches enrichment;
        rows absent from the file stay unless ``prune`` is asked for. The field
        mapping and id rule, when given, are stored with the list in the same
        transaction (the importer decides them; the store only keeps them).
        """
        check_name(name)
        report = ImportReport(lead_list=name, source=source, field_map=field_map, id_rule=id_rule)
        now = utcnow()
        rules: dict[str, Any] = {}
        if field_map is not None:
            rules["field_map"] = field_map
        if id_rule is not None:
            rules["id_rule"] = id_rule
        with self.engine.begin() as conn:
            exists = conn.execute(
                select(lead_lists.c.name).where(lead_lists.c.name == name)
            ).first()
            if exists:
                conn.execute(
                    update(lead_lists)
                    .where(lead_lists.c.name == name)
                    .values(updated_at=now, source=source, **rules)
                )
            else:
                conn.execute(
                    lead_lists.insert().values(
                        name=name, source=source, created_at=now, updated_at=now, **rules
                    )
                )
            existing = {
                r.row_id: (r.position, fields_digest(r.fields))
                for r in conn.execute(
                    select(leads.c.row_id, leads.c.position, leads.c.fields).where(
                        leads.c.lead_list == name
                    )
                )
            }
            next_position = max((p for p, _ in existing.values()), default=-1) + 1
            new_rows: list[dict[str, Any]] = []
            for row_id, fields in rows:
                if row_id not in existing:
                    new_rows.append(
                        {
                            "lead_list": name,
                            "row_id": row_id,
                            "position": next_position,
                            "fields": fields,
                            "created_at": now,
                            "updated_at": now,
                        }
                    )
                    next_position += 1
                    report.added += 1
                elif existing[row_id][1] != fields_digest(fields):
                    conn.execute(
                        update(leads)
                        .where(and_(leads.c.lead_list == name, leads.c.row_id == row_id))
                        .values(fields=fields, updated_at=now)
                    )
                    report.updated += 1
                else:
                    report.unchanged += 1
            if new_rows:
                conn.execute(leads.insert(), new_rows)
            if prune:
                keep = {row_id for row_id, _ in rows}
                gone = [row_id for row_id in existing if row_id not in keep]
                for start in range(0, len(gone), 500):
                    chunk = gone[start : start + 500]
                    conn.execute(
                        delete(node_results).where(
                            and_(
                                node_results.c.lead_list == name,
                                node_results.c.row_id.in_(chunk),
                            )
                        )
                    )
                    conn.execute(
                        delete(leads).where(
                            and_(leads.c.lead_list == name, leads.c.row_id.in_(chunk))
                        )
                    )
                report.pruned = len(gone)
        return report

    def rows(self, name: str, row_ids: Iterable[str] | None = None) -> list[LeadRow]:
        """Rows in import order; ``row_ids`` narrows to a shard."""
        check_name(name)
        query = select(leads.c.row_id, leads.c.position, leads.c.fields).where(
            leads.c.lead_list == name
        )
        wanted = None if row_ids is None else list(row_ids)
        with self.engine.connect() as conn:
            if wanted is None:
                result = list(conn.execute(query.order_by(leads.c.position)))
            else:
                result = []
                for start in range(0, len(wanted), 500):
                    chunk = wanted[start : start + 500]
                    result.extend(conn.execute(query.where(leads.c.row_id.in_(chunk))))
                result.sort(key=lambda r: r.position)
        return [LeadRow(row_id=r.row_id, position=r.position, fields=r.fields) for r in result]

    def row_count(self, name: str) -> int:
        with self.engine.connect() as conn:
            return conn.execute(
                select(func.count()).select_from(leads).where(leads.c.lead_list == name)
            ).scalar_one()

    # ---- node results -----------------------------------------------------

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
            }
            for r in results
        ]
        stmt = self._insert(node_results)
        excluded = stmt.excluded
        stmt = stmt.on_conflict_do_update(
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
                "cost": excluded.cost,
                "config_hash": excluded.config_hash,
                "input_hash": excluded.input_hash,
                "provider": excluded.provider,
            },
        )
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
        query = select(node_results).where(node_results.c.lead_list == name)
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
        with self.engine.connect() as conn:
            for r in (row for q in queries for row in conn.execute(q)):
                out.setdefault(r.row_id, {})[(r.workflow, r.node)] = NodeResult(
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
                )
        return out

    # ---- status and the wide view ----------------------------------------

    def status(self, name: str, workflow_nodes: dict[str, list[str]] | None = None) -> ListStatus:
        """Per-workflow row counts: a row is ok when every node is ok or skipped.

        ``workflow_nodes`` (workflow -> node ids) makes the counts exact: a row
        that stopped mid-workflow is pending, not ok. Without it, the workflows
        seen in the results are counted by the nodes that ran. Counting happens
        in SQL: the CLI polls this every second while a run writes thousands of
        results, so it must not load them.
        """
        self.require_list(name)
        total = self.row_count(name)
        plan = dict(workflow_nodes or {})
        with self.engine.connect() as conn:
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
            for workflow, nodes in plan.items():
                report.workflows.append(self._workflow_counts(conn, name, workflow, nodes, total))
        return report

    def run_counts(self, run_id: int, nodes: list[str]) -> WorkflowStatus:
        """What run ``run_id`` has done so far: rows with a result written since it started.

        The progress bar, the run's closing summary and its record all count
        with this, so their figures are the same by construction. A row counts
        once its every node has a result (ok, failed or skipped); ``pending``
        is always 0 here.
        """
        with self.engine.connect() as conn:
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
        self.require_list(name)
        since = None
        if run_id is not None:
            with self.engine.connect() as conn:
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
        with self.engine.connect() as conn:
            return [
                FailedRow(
                    row_id=r.row_id,
                    name=_row_name(r.fields),
                    workflow=r.workflow,
                    node=r.node,
                    error=r.error or "",
                    attempts=r.attempts,
                    finished_at=None if r.finished_at is None else _aware(r.finished_at),
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
        per_row = per_row.subquery()
        n = len(nodes)
        failed, skipped, ok, cost = conn.execute(
            select(
                func.sum(case((per_row.c.failed > 0, 1), else_=0)),
                func.sum(case((and_(per_row.c.failed == 0, per_row.c.skipped == n), 1), else_=0)),
                func.sum(
                    case(
                        (
                            and_(
                                per_row.c.failed == 0,
                                per_row.c.done == n,
                                per_row.c.skipped < n,
                            ),
                            1,
                        ),
                        else_=0,
                    )
                ),
                func.sum(per_row.c.cost),
            )
        ).one()
        counts = WorkflowStatus(
            workflow=workflow,
            ok=int(ok or 0),
            failed=int(failed or 0),
            skipped=int(skipped or 0),
            cost=float(cost or 0.0),
        )
        counts.pending = total - counts.ok - counts.failed - counts.skipped
        return counts

    def _enrichment(
        self, name: str, row_ids: Sequence[str] | None = None
    ) -> tuple[dict[str, dict[str, Any]], list[str]]:
        """Every row's ok outputs merged in node order, and the output columns seen.

        Within a workflow a later node's ok output replaces an earlier one's (the
        cascade pattern: a model refines a rule's answer); two workflows never
        write the same column, which the workflow loader enforces.
        """
        query = (
            select(node_results.c.row_id, node_results.c.outputs)
            .where(and_(node_results.c.lead_list == name, node_results.c.status == OK))
            .order_by(node_results.c.workflow, node_results.c.node_index)
        )
        if row_ids is not None and len(row_ids) <= 500:
            query = query.where(node_results.c.row_id.in_(list(row_ids)))
        outputs: dict[str, dict[str, Any]] = {}
        columns: dict[str, None] = {}
        with self.engine.connect() as conn:
            for r in conn.execute(query):
                for key, value in (r.outputs or {}).items():
                    outputs.setdefault(r.row_id, {})[key] = value
                    columns.setdefault(key, None)
        return outputs, list(columns)

    def output_columns(self, name: str) -> list[str]:
        """Every output column some ok result of the list holds, in node order."""
        return self._enrichment(name)[1]

    def mapped_rows(self, name: str, row_ids: Iterable[str] | None = None) -> list[LeadRow]:
        """Rows with the list's canonical fields added to the imported columns (no outputs):
        what the engine hashes and hands to nodes, with the same mapping as ``row_values``."""
        canonical, columns = self._mapped_columns(name)
        return [
            LeadRow(
                row_id=r.row_id,
                position=r.position,
                fields={
                    **r.fields,
                    **{
                        field: r.fields.get(columns[field]) if field in columns else None
                        for field in canonical
                    },
                },
            )
            for r in self.rows(name, row_ids)
        ]

    def row_values(
        self, name: str, row_ids: Sequence[str] | None = None
    ) -> dict[str, dict[str, Any]]:
        """What a node sees of each row: imported columns, canonical fields, ok outputs.

        The imported columns keep their own names (``Company Name``); the list's
        field mapping adds the canonical fields (``name``) read from them, so a
        workflow reads the same names whatever the file called them. Outputs
        come last: what the pipeline decided is never hidden by imported data.
        """
        rows = self.rows(name, row_ids)
        canonical, columns = self._mapped_columns(name)
        outputs, _ = self._enrichment(name, [r.row_id for r in rows] if row_ids else None)
        return {
            r.row_id: {
                **r.fields,
                **{
                    field: r.fields.get(columns[field]) if field in columns else None
                    for field in canonical
                },
                **outputs.get(r.row_id, {}),
                ID_COLUMN: r.row_id,
            }
            for r in rows
        }

    def _mapped_columns(self, name: str) -> tuple[list[str], dict[str, str]]:
        """(every canonical field, field -> imported column) from the list's field mapping.

        An unmapped field is None. A list imported before mappings were stored
        has none: its rows are read as they are until its next import.
        """
        with self.engine.connect() as conn:
            stored = conn.execute(
                select(lead_lists.c.field_map).where(lead_lists.c.name == name)
            ).scalar()
        stored = stored or {}
        return list(stored.get("fields") or []), dict(stored.get("columns") or {})

    def wide_frame(self, name: str) -> pd.DataFrame:
        """One row per lead: ``_id``, the base fields, then every workflow's outputs.

        An imported column with the name of an output is shown as
        ``imported_<name>`` so the output keeps its own name: an export always
        shows what the pipeline decided. (The importer renames such columns
        on the way in; this covers outputs of workflows added later.)
        """
        self.require_list(name)
        rows = self.rows(name)
        outputs, output_columns = self._enrichment(name)
        base_columns: dict[str, None] = {}
        for row in rows:
            for key in row.fields:
                base_columns.setdefault(key, None)
        shown = {key: imported_name(key, output_columns) for key in base_columns}
        records = []
        for row in rows:
            enriched = outputs.get(row.row_id, {})
            record: dict[str, Any] = {ID_COLUMN: row.row_id}
            record.update({shown[k]: row.fields.get(k) for k in base_columns})
            record.update({k: enriched.get(k) for k in output_columns})
            records.append(record)
        columns = [ID_COLUMN, *shown.values(), *output_columns]
        # Built as object dtype (not inferred, then cast): a column of ints with a
        # gap would otherwise pass through float64 and export 3 as 3.0.
        return pd.DataFrame(records, columns=columns, dtype=object)

    # ---- runs -------------------------------------------------------------

    def start_run(
        self, name: str, workflow: str, params: dict[str, Any], dagster_run_id: str | None = None
    ) -> int:
        with self.engine.begin() as conn:
            return conn.execute(
                runs.insert().values(
                    dagster_run_id=dagster_run_id,
                    lead_list=name,
                    workflow=workflow,
                    params=params,
                    status="running",
                    ok=0,
                    failed=0,
                    skipped=0,
                    cost=0.0,
                    started_at=utcnow(),
                )
            ).inserted_primary_key[0]

    def finish_run(
        self,
        run_id: int,
        *,
        status: str,
        ok: int,
        failed: int,
        skipped: int,
        cost: float,
        message: str | None = None,
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(runs)
                .where(runs.c.id == run_id)
                .values(
                    status=status,
                    ok=ok,
                    failed=failed,
                    skipped=skipped,
                    cost=cost,
                    finished_at=utcnow(),
                    message=message,
                )
            )

    def latest_run_id(self) -> int:
        """The id of the newest run record (0 when there is none): runs after it are newer."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.max(runs.c.id))).scalar() or 0)

    def recent_runs(self, name: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        query = select(runs).order_by(runs.c.id.desc()).limit(limit)
        if name is not None:
            query = query.where(runs.c.lead_list == name)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    # ---- provider response cache -----------------------------------------

    def cache_get(self, key: str) -> Any | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(response_cache.c.response).where(response_cache.c.key == key)
            ).first()
        return None if row is None else row.response

    def cache_entry(self, key: str) -> tuple[str, Any, datetime] | None:
        """``(provider, response, written at)`` of a cached answer, for lifetimes."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(
                    response_cache.c.provider,
                    response_cache.c.response,
                    response_cache.c.created_at,
                ).where(response_cache.c.key == key)
            ).first()
        if row is None:
            return None
        return row.provider, row.response, _aware(row.created_at)

    def prune_cache(
        self,
        default: timedelta,
        lifetimes: Mapping[str, timedelta] | None = None,
        *,
        now: datetime | None = None,
    ) -> int:
        """Delete cached answers older than their provider's lifetime; returns how many."""
        now = now or utcnow()
        named = dict(lifetimes or {})
        deleted = 0
        with self.engine.begin() as conn:
            for provider, lifetime in named.items():
                deleted += conn.execute(
                    delete(response_cache).where(
                        and_(
                            response_cache.c.provider == provider,
                            response_cache.c.created_at < now - lifetime,
                        )
                    )
                ).rowcount
            others = delete(response_cache).where(response_cache.c.created_at < now - default)
            if named:
                others = others.where(response_cache.c.provider.not_in(list(named)))
            deleted += conn.execute(others).rowcount
        return deleted

    def cache_put(self, key: str, provider: str, response: Any) -> None:
        stmt = self._insert(response_cache).values(
            key=key, provider=provider, response=response, created_at=utcnow()
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["key"],
            set_={"response": stmt.excluded.response, "created_at": stmt.excluded.created_at},
        )
        with self.engine.begin() as conn:
            conn.execute(stmt)

    # ---- what was last sent to a CRM -----------------------------------

    def crm_state(self, name: str, crm: str) -> dict[tuple[str, str], CrmRecord]:
        """(object type, key) -> the record last synced for list ``name`` to ``crm``."""
        with self.engine.connect() as conn:
            found = conn.execute(
                select(crm_records).where(crm_records.c.lead_list == name, crm_records.c.crm == crm)
            )
            return {
                (r.object_type, r.key): CrmRecord(
                    r.object_type, r.key, r.row_id, r.crm_id, r.synced_hash
                )
                for r in found
            }

    def record_crm_sync(self, name: str, crm: str, records: Sequence[CrmRecord]) -> None:
        """Remember what was sent and the CRM's ids, in one transaction."""
        if not records:
            return
        now = utcnow()
        stmt = self._insert(crm_records).values(
            [
                {
                    "lead_list": name,
                    "crm": crm,
                    "object_type": r.object_type,
                    "key": r.key,
                    "row_id": r.row_id,
                    "crm_id": r.crm_id,
                    "synced_hash": r.synced_hash,
                    "synced_at": now,
                }
                for r in records
            ]
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["lead_list", "crm", "object_type", "key"],
            set_={
                "row_id": stmt.excluded.row_id,
                "crm_id": stmt.excluded.crm_id,
                "synced_hash": stmt.excluded.synced_hash,
                "synced_at": stmt.excluded.synced_at,
            },
        )
        with self.engine.begin() as conn:
            conn.execute(stmt)

    # ---- values passed between Dagster steps ----------------------------

    def put_step_output(self, run_id: str, step_key: str, name: str, value: bytes) -> None:
        stmt = self._insert(step_outputs).values(
            run_id=run_id, step_key=step_key, name=name, value=value, created_at=utcnow()
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["run_id", "step_key", "name"],
            set_={"value": stmt.excluded.value, "created_at": stmt.excluded.created_at},
        )
        with self.engine.begin() as conn:
            conn.execute(stmt)

    def get_step_output(self, run_id: str, step_key: str, name: str) -> bytes:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(step_outputs.c.value).where(
                    and_(
                        step_outputs.c.run_id == run_id,
                        step_outputs.c.step_key == step_key,
                        step_outputs.c.name == name,
                    )
                )
            ).first()
        if row is None:
            raise KeyError(f"no stored output {name!r} of step {step_key!r} in run {run_id}")
        return row.value

    def prune_step_outputs(self, before: datetime) -> int:
        """Drop intermediate values of old runs; re-execution of those runs then re-selects."""
        with self.engine.begin() as conn:
            return conn.execute(
                delete(step_outputs).where(step_outputs.c.created_at < before)
            ).rowcount

    # ---- run locks ----------------------------------------------------------

    def run_lock(self, lead_list: str, workflow: str) -> RunLock | None:
        """The lock of ``workflow`` on ``lead_list``, or None when no run holds it."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(run_locks).where(
                    and_(run_locks.c.lead_list == lead_list, run_locks.c.workflow == workflow)
                )
            ).first()
        return None if row is None else _lock(row)

    def acquire_run_lock(
        self,
        lead_list: str,
        workflow: str,
        owner: str,
        stale_after_s: float,
        *,
        take_from: str | None = None,
        now: datetime | None = None,
        holder: str | None = None,
        holder_gone: Callable[[str | None], bool] | None = None,
    ) -> LockAttempt:
        """Take the run lock of ``workflow`` on ``lead_list`` for ``owner``, if it is free.

        Free means: nobody holds it, ``owner`` already does (a retried step, a
        heartbeat), its holder's heartbeat is older than ``stale_after_s``
        seconds (the holder's processes died), its holder is ``take_from``
        (a run the caller knows has ended), or ``holder_gone`` says the process
        recorded as the lock's ``holder`` (its launching command) no longer exists.
        ``holder`` is recorded for this owner. Taking over marks the old holder's
        open ``runs`` records as abandoned. Check and write happen in one
        transaction under a row lock, so two runs racing for it cannot both win.
        """
        check_name(lead_list)
        now = now or utcnow()
        cutoff = now - timedelta(seconds=stale_after_s)
        key = and_(run_locks.c.lead_list == lead_list, run_locks.c.workflow == workflow)
        mine = RunLock(lead_list, workflow, owner, now, now, holder)
        insert = (
            self._insert(run_locks)
            .values(
                lead_list=lead_list,
                workflow=workflow,
                owner=owner,
                acquired_at=now,
                heartbeat_at=now,
                holder=holder,
            )
            .on_conflict_do_nothing(index_elements=["lead_list", "workflow"])
        )
        for _ in range(3):  # a lock released between the insert and the read: try again
            with self.engine.begin() as conn:
                if conn.execute(insert).rowcount == 1:
                    return LockAttempt(acquired=True, holder=mine)
                row = conn.execute(select(run_locks).where(key).with_for_update()).first()
                if row is None:
                    continue
                current = _lock(row)
                if current.owner == owner:
                    kept = holder or current.holder
                    conn.execute(update(run_locks).where(key).values(heartbeat_at=now, holder=kept))
                    held = RunLock(lead_list, workflow, owner, current.acquired_at, now, kept)
                    return LockAttempt(acquired=True, holder=held)
                gone = holder_gone is not None and holder_gone(current.holder)
                if current.heartbeat_at >= cutoff and current.owner != take_from and not gone:
                    return LockAttempt(acquired=False, holder=current)
                conn.execute(
                    update(run_locks)
                    .where(key)
                    .values(owner=owner, acquired_at=now, heartbeat_at=now, holder=holder)
                )
                why = (
                    f"its launching process ({current.holder}) is gone"
                    if gone
                    else f"last heartbeat {current.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC"
                )
                conn.execute(
                    update(runs)
                    .where(
                        and_(
                            runs.c.dagster_run_id == current.owner,
                            runs.c.lead_list == lead_list,
                            runs.c.workflow == workflow,
                            runs.c.status == "running",
                        )
                    )
                    .values(
                        status="abandoned",
                        finished_at=now,
                        message=f"{workflow} on {lead_list}: stopped without finishing "
                        f"({why}); taken over by run {owner}",
                    )
                )
                return LockAttempt(acquired=True, holder=mine, replaced=current)
        raise RuntimeError(f"run lock of {workflow} on {lead_list} kept changing hands")

    def heartbeat_run_lock(
        self, lead_list: str, workflow: str, owner: str, *, now: datetime | None = None
    ) -> bool:
        """Note that ``owner`` is alive; False when the lock is not (or no longer) its own."""
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(run_locks)
                .where(
                    and_(
                        run_locks.c.lead_list == lead_list,
                        run_locks.c.workflow == workflow,
                        run_locks.c.owner == owner,
                    )
                )
                .values(heartbeat_at=now or utcnow())
            ).rowcount
        return changed == 1

    def release_run_lock(self, lead_list: str, workflow: str, owner: str) -> bool:
        """Give the lock up; False when ``owner`` did not hold it (taken over meanwhile)."""
        with self.engine.begin() as conn:
            deleted = conn.execute(
                delete(run_locks).where(
                    and_(
                        run_locks.c.lead_list == lead_list,
                        run_locks.c.workflow == workflow,
                        run_locks.c.owner == owner,
                    )
                )
            ).rowcount
        return deleted == 1


IMPORTED_PREFIX = "imported_"


def imported_name(column: str, outputs: Iterable[str]) -> str:
    """The name an imported column goes by: its own, or ``imported_<name>`` beside an output.

    Repeated until free, so an imported ``is_b2b`` beside an imported
    ``imported_is_b2b`` cannot collide either.
    """
    taken = set(outputs)
    while column in taken:
        column = IMPORTED_PREFIX + column
    return column


def _list_info(row: Any, count: int) -> LeadListInfo:
    return LeadListInfo(
        name=row.name,
        rows=count,
        source=row.source,
        updated_at=_aware(row.updated_at),
        field_map=row.field_map,
        id_rule=row.id_rule,
    )


def _row_name(fields: Any) -> str | None:
    """A row's ``name`` (or ``company``) field, to tell a person which lead a row id is."""
    if isinstance(fields, dict):
        for key in ("name", "company", "company_name"):
            value = fields.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
    return None


def _lock(row: Any) -> RunLock:
    return RunLock(
        lead_list=row.lead_list,
        workflow=row.workflow,
        owner=row.owner,
        acquired_at=_aware(row.acquired_at),
        heartbeat_at=_aware(row.heartbeat_at),
        holder=row.holder,
    )
