"""A run's money in the lead store: the ledger every shard and process of the run shares.

One row per run with a cap. A reservation is one conditional ``UPDATE`` (add the
amount where reserved + spent + amount <= cap), so it fits or changes nothing,
atomically: SQLite serialises writers (``BEGIN IMMEDIATE``, ``connection.py``),
and PostgreSQL re-checks the condition against the row a concurrent writer just
committed before updating it. No lock is held across statements, and no
process's clock is read. A reservation left open by a process that died stays
counted: the call may have been paid, so the cap stays a cap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, select, update

from lead_pipeline.store.schema import run_ledgers
from lead_pipeline.store.shared import StorePart, utcnow


@dataclass(frozen=True)
class LedgerTotals:
    """A run's ledger, in nano-dollars."""

    cap: int
    reserved: int
    spent: int


class RunLedgers(StorePart):
    """Open, reserve against, settle and read run ledgers."""

    def open_ledger(self, run_key: str, cap: int) -> None:
        """Create ``run_key``'s ledger with ``cap`` unless it exists (the first shard of a
        run opens it; every later one, of any workflow, finds it)."""
        stmt = (
            self._insert(run_ledgers)
            .values(run_key=run_key, cap=cap, reserved=0, spent=0, opened_at=utcnow())
            .on_conflict_do_nothing(index_elements=["run_key"])
        )
        with self.engine.begin() as conn:
            conn.execute(stmt)

    def ledger_reserve(self, run_key: str, amount: int) -> LedgerTotals | None:
        """Reserve ``amount`` if it fits under the cap, returning the ledger after it; None,
        changing nothing, if it does not fit."""
        c = run_ledgers.c
        stmt = (
            update(run_ledgers)
            .where(and_(c.run_key == run_key, c.reserved + c.spent + amount <= c.cap))
            .values(reserved=c.reserved + amount)
            .returning(c.cap, c.reserved, c.spent)
        )
        with self.engine.begin() as conn:
            row = conn.execute(stmt).first()
        return None if row is None else LedgerTotals(row.cap, row.reserved, row.spent)

    def ledger_settle(self, run_key: str, reserved: int, cost: int) -> LedgerTotals:
        """Release ``reserved`` and count ``cost`` as spent, in one statement."""
        c = run_ledgers.c
        stmt = (
            update(run_ledgers)
            .where(c.run_key == run_key)
            .values(reserved=c.reserved - reserved, spent=c.spent + cost)
            .returning(c.cap, c.reserved, c.spent)
        )
        with self.engine.begin() as conn:
            row = conn.execute(stmt).one()
        return LedgerTotals(row.cap, row.reserved, row.spent)

    def prune_ledgers(self, before: datetime) -> int:
        """Drop the ledgers of runs opened before ``before``: a run's ledger serves only
        while its shards run. Whichever run closes prunes them (``WorkflowRun.prune``)."""
        with self.engine.begin() as conn:
            return conn.execute(
                delete(run_ledgers).where(run_ledgers.c.opened_at < before)
            ).rowcount

    def ledger(self, run_key: str) -> LedgerTotals | None:
        with self._reading() as conn:
            row = conn.execute(
                select(run_ledgers.c.cap, run_ledgers.c.reserved, run_ledgers.c.spent).where(
                    run_ledgers.c.run_key == run_key
                )
            ).first()
        return None if row is None else LedgerTotals(row.cap, row.reserved, row.spent)


class StoreLedger:
    """Implements ``providers.budget.Ledger`` for one run on the lead store."""

    blocking = True

    def __init__(self, ledgers: RunLedgers, run_key: str, cap: int) -> None:
        self.ledgers = ledgers
        self.run_key = run_key
        ledgers.open_ledger(run_key, cap)

    def reserve(self, amount: int) -> bool:
        return self.ledgers.ledger_reserve(self.run_key, amount) is not None

    def settle(self, reserved: int, cost: int) -> None:
        self.ledgers.ledger_settle(self.run_key, reserved, cost)

    def totals(self) -> tuple[int | None, int, int]:
        found = self.ledgers.ledger(self.run_key)
        return (None, 0, 0) if found is None else (found.cap, found.reserved, found.spent)
