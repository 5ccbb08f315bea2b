"""Runs and their locks: the record each run keeps, and who may run a workflow on a list.

A run lock is one row per (list, workflow); taking it over from a dead holder
marks that holder's open run records abandoned in the same transaction, so a
record is never left "running" by a run nobody runs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update

from lead_pipeline.store.names import check_name
from lead_pipeline.store.records import LockAttempt, RunLock
from lead_pipeline.store.schema import run_locks, runs
from lead_pipeline.store.shared import StorePart, aware, utcnow


class RunRecords(StorePart):
    """One record per run: started, counted and closed by the run's own steps."""

    def start_run(
        self, name: str, workflow: str, params: dict[str, Any], dagster_run_id: str | None = None
    ) -> int:
        with self.engine.begin() as conn:
            key = conn.execute(
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
            ).inserted_primary_key
        assert key is not None  # an insert into a table with a primary key has one
        return int(key[0])

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
        with self._reading() as conn:
            return int(conn.execute(select(func.max(runs.c.id))).scalar() or 0)

    def run_covering(self, name: str, workflow: str, when: datetime) -> dict[str, Any] | None:
        """The run of ``workflow`` on ``name`` that was going at ``when`` (a result's finish):
        the run that wrote that result. None for a result written outside any run."""
        query = (
            select(runs)
            .where(
                runs.c.lead_list == name,
                runs.c.workflow == workflow,
                runs.c.started_at <= when,
                or_(runs.c.finished_at.is_(None), runs.c.finished_at >= when),
            )
            .order_by(runs.c.id.desc())
            .limit(1)
        )
        with self._reading() as conn:
            row = conn.execute(query).first()
        return None if row is None else dict(row._mapping)

    def recent_runs(self, name: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        query = select(runs).order_by(runs.c.id.desc()).limit(limit)
        if name is not None:
            query = query.where(runs.c.lead_list == name)
        with self._reading() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]


class RunLocks(StorePart):
    """At most one run of a workflow on a list at a time, with heartbeats and takeover."""

    def run_lock(self, lead_list: str, workflow: str) -> RunLock | None:
        """The lock of ``workflow`` on ``lead_list``, or None when no run holds it."""
        with self._reading() as conn:
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


def _lock(row: Any) -> RunLock:
    return RunLock(
        lead_list=row.lead_list,
        workflow=row.workflow,
        owner=row.owner,
        acquired_at=aware(row.acquired_at),
        heartbeat_at=aware(row.heartbeat_at),
        holder=row.holder,
    )
