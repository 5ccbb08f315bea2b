"""Rows whose results of a workflow stand, found in one query instead of row by row.

Selection decides per row whether a result still stands: its configuration
hash, its status, its age, and the hash of exactly what the node read. The
last needs the row's values, so deciding it loads every row and every result
into Python and hashes them (100,000 rows: tens of seconds). Most rows of a
finished list have not changed since their results were written, and that
can be decided from timestamps in the database:

A row is *settled* for workflow W when every node of W has a result that stands
by the rule selection checks row by row too (``store/standing.py``: not failed,
under the node's current configuration hash, not a skip for want of a provider
key, not older than the node's ``max_age``), and when
nothing W's nodes read has changed since the run that wrote those results
started (``runs.started_at``, taken before that run read any value):

* all of them were written by one run of W (the next run of W started later),
  so every node read the outputs of the nodes before it in that same run (skips
  for ``where`` are written at selection, from values read after their own start);
* the row's fields (``leads.updated_at``, which an import also bumps for every
  row when the list's field mapping changes) are older than that run;
* no result of a workflow upstream of W (the only ones whose outputs W may
  read: ``needs``, checked when workflows load) was written after that run began.

Then each node would see what it saw, and selection would find every result
standing: the row is up to date (or, if all of W's results are skips for its
``where``, still outside it). Selection hashes only the rows left over. The
caller decides when a workflow can be settled this way at all: not when it is
forced, and not when a node or ``where`` reads a parameter (a parameter's
value is not recorded with the result) or the whole row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, null, or_, select

from lead_pipeline.store.schema import leads, node_results, runs
from lead_pipeline.store.shared import StorePart
from lead_pipeline.store.standing import NodeRule, skipped_for_where_sql, standing_sql


@dataclass
class Settlement:
    """Every row of a list, split: ``settled`` (row id -> all its results are skips for
    ``where``) and the ``rest`` to decide row by row, in import order; ``fresh`` are the
    rows of ``rest`` with no result of the workflow at all."""

    settled: dict[str, bool] = field(default_factory=dict)
    rest: list[str] = field(default_factory=list)
    fresh: set[str] = field(default_factory=set)


class SettledRows(StorePart):
    """The rows of a list whose results of one workflow stand, by their timestamps."""

    def has_row_without_results(self, lead_list: str, workflow: str) -> bool:
        """Whether some row of the list has no result of ``workflow`` at all.

        Such a row is work for a run (or, outside ``where``, a skipped record to write):
        one indexed query answers what selecting every row would, when that is all a
        caller needs to know (``enrich`` deciding whether to launch a run).
        """
        mine = (
            select(node_results.c.row_id)
            .where(
                node_results.c.lead_list == leads.c.lead_list,
                node_results.c.row_id == leads.c.row_id,
                node_results.c.workflow == workflow,
            )
            .exists()
        )
        query = select(leads.c.row_id).where(leads.c.lead_list == lead_list, ~mine).limit(1)
        with self._reading() as conn:
            return conn.execute(query).first() is not None

    def unsettled(self, lead_list: str, workflow: str) -> Settlement:
        """Every row of the list to decide row by row (``rest``), and which of them have
        no result of ``workflow`` (``fresh``): for a workflow whose results cannot be
        settled by their timestamps."""
        out = Settlement()
        with self._reading() as conn:
            out.rest = [r for (r,) in conn.execute(_every_row(lead_list))]
            out.fresh = _fresh(conn, lead_list, workflow, out.rest)
        return out

    def settle(
        self,
        lead_list: str,
        workflow: str,
        rules: Sequence[NodeRule],
        *,
        upstream: Sequence[str],
        now: datetime,
    ) -> Settlement:
        """Which rows of ``lead_list`` are settled for ``workflow`` (see the module docstring).

        ``rules``: one per node of the workflow, what its results are checked against
        (``store/standing.py``, the rule selection checks row by row too).
        """
        nr = node_results.c
        nodes = [rule.node for rule in rules]
        standing = standing_sql(nr, list(rules), now)
        outside = skipped_for_where_sql(nr, rules[0].where_note)
        per_row = (
            select(
                nr.row_id,
                func.count().label("results"),
                func.sum(case((standing, 1), else_=0)).label("standing"),
                func.sum(case((outside, 1), else_=0)).label("outside"),
                func.min(nr.started_at).label("first"),
                func.max(nr.started_at).label("last"),
            )
            .where(and_(nr.lead_list == lead_list, nr.workflow == workflow, nr.node.in_(nodes)))
            .group_by(nr.row_id)
            .subquery()
        )
        # The run of W each row's results were written by: the last run of W started at or
        # before the row's first result, up to the next run's start. The runs of W on the
        # list become intervals once (a window), and each row joins the one it falls in;
        # per-row subqueries on ``runs`` (which has no index on its start) scanned the whole
        # table several times per row: 1.85 CPU-s for 20,000 rows with 301 runs.
        own = (
            select(
                runs.c.started_at.label("start"),
                func.lead(runs.c.started_at).over(order_by=runs.c.started_at).label("next"),
            )
            .where(and_(runs.c.lead_list == lead_list, runs.c.workflow == workflow))
            .subquery("own_runs")
        )
        other = node_results.alias("other")
        upstream_written = (
            select(func.max(other.c.finished_at))
            .where(
                and_(
                    other.c.lead_list == lead_list,
                    other.c.row_id == per_row.c.row_id,
                    other.c.workflow.in_(list(upstream)),
                )
            )
            .scalar_subquery()
        )
        candidates = (
            select(
                per_row.c.row_id,
                per_row.c.outside,
                per_row.c.first,
                per_row.c.last,
                leads.c.updated_at,
                own.c.start.label("run_start"),
                own.c.next.label("next_start"),
                (upstream_written if upstream else null().cast(nr.finished_at.type)).label(
                    "upstream"
                ),
            )
            .select_from(
                per_row.join(
                    leads,
                    and_(leads.c.lead_list == lead_list, leads.c.row_id == per_row.c.row_id),
                ).outerjoin(
                    own,
                    and_(
                        own.c.start <= per_row.c.first,
                        or_(own.c.next.is_(None), per_row.c.first < own.c.next),
                    ),
                )
            )
            .where(
                and_(
                    per_row.c.results == len(nodes),
                    per_row.c.standing == len(nodes),
                    or_(per_row.c.outside == 0, per_row.c.outside == len(nodes)),
                )
            )
            # Materialized: each row's upstream lookup runs once, not wherever the query
            # below names it.
            .cte("candidates")
            .prefix_with("MATERIALIZED")
        )
        c = candidates.c
        n = len(nodes)
        # Skips for ``where`` are written by the select step, before its run record, from
        # values read after their own start: that is when their row was last read.
        read_after = case((c.outside == n, c.first), else_=c.run_start)
        settled = select(c.row_id, c.outside).where(
            and_(
                read_after.is_not(None),
                c.updated_at < read_after,
                or_(c.outside == n, c.next_start.is_(None), c.last < c.next_start),
                or_(c.upstream.is_(None), c.upstream < read_after),
            )
        )
        # Two plain queries, not the rows outer-joined to the one above: SQLite would
        # evaluate that subquery once per row of the list.
        out = Settlement()
        with self._reading() as conn:
            out.settled = {row_id: bool(outside) for row_id, outside in conn.execute(settled)}
            out.rest = [r for (r,) in conn.execute(_every_row(lead_list)) if r not in out.settled]
            out.fresh = _fresh(conn, lead_list, workflow, out.rest)
        return out


def _every_row(lead_list: str) -> Any:
    return select(leads.c.row_id).where(leads.c.lead_list == lead_list).order_by(leads.c.position)


def _fresh(conn: Any, lead_list: str, workflow: str, rest: Sequence[str]) -> set[str]:
    """The rows of ``rest`` with no result of ``workflow``; no query when ``rest`` is empty
    (a finished list: nothing to do stays one query and a scan)."""
    if not rest:
        return set()
    nr = node_results.c
    resulted = select(nr.row_id).where(nr.lead_list == lead_list, nr.workflow == workflow)
    have = {r for (r,) in conn.execute(resulted.distinct())}
    return {row_id for row_id in rest if row_id not in have}
