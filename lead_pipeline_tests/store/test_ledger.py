"""A run's ledger in the store: reservations against one cap from several processes at once,
on SQLite and PostgreSQL; what a dead process leaves; hostile costs refused."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lead_pipeline.providers import Budget, BudgetExceeded, InvalidAnswer, Paid
from lead_pipeline.providers.budget import NANOS_PER_USD, Reservation, metered, to_nanos
from lead_pipeline.providers.errors import BudgetHeld
from lead_pipeline.providers.policy import CallPolicy, Tab
from lead_pipeline.store import LeadStore
from lead_pipeline.store.ledger import StoreLedger

# Each worker process opens the store and reserves ``tries`` times, settling every other
# reservation at half its price, until the cap refuses; it prints how many fit.
WORKER = textwrap.dedent(
    """
    import sys
    from lead_pipeline.store import LeadStore
    url, key, amount, tries = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    store = LeadStore(url)
    fitted = settled = 0
    for i in range(tries):
        if store.ledger_reserve(key, amount) is not None:
            fitted += 1
            if i % 2:
                store.ledger_settle(key, amount, amount // 2)
                settled += 1
    print(fitted, settled)
    """
)


def test_processes_racing_one_run_ledger_never_pass_its_cap(store: LeadStore) -> None:
    cap, amount = to_nanos(1.0, "cap"), to_nanos(0.03, "price")
    store.open_ledger("run-1", cap)
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, store.url, "run-1", str(amount), "40"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [w.communicate(timeout=300)[0].split() for w in workers]
    assert all(w.returncode == 0 for w in workers)
    fitted = sum(int(o[0]) for o in outputs)
    settled = sum(int(o[1]) for o in outputs)
    totals = store.ledger("run-1")
    assert totals is not None and totals.cap == cap
    # What is held (open reservations) plus what was spent never passes the cap ...
    assert totals.reserved + totals.spent <= cap
    # ... and is exactly what the processes were granted, less what settling gave back.
    assert totals.reserved == (fitted - settled) * amount
    assert totals.spent == settled * (amount // 2)
    # The cap was reached: not one more reservation of this size fits.
    assert cap - (totals.reserved + totals.spent) < amount
    assert store.ledger_reserve("run-1", amount) is None


async def test_one_ledger_per_run_and_a_dead_process_reservation_stays_counted(
    store: LeadStore,
) -> None:
    cap = to_nanos(0.5, "cap")
    # A shard that reserved and died: nobody settles its reservation.
    dead = Budget(0.5, ledger=StoreLedger(store.run_ledgers, "run-a", cap))
    dead.reserve(Reservation("pdl"), 0.28)
    # Another shard of the same run finds the ledger (its cap unchanged) and the
    # reservation still counted: the call may have been paid. It would fit once that
    # reservation settles, so the call is held, not refused...
    alive = Budget(0.5, ledger=StoreLedger(store.run_ledgers, "run-a", to_nanos(9.0, "cap")))
    with pytest.raises(BudgetHeld, match="reserved by calls in flight"):
        alive.reserve(Reservation("pdl"), 0.28)
    assert not alive.exhausted
    # ...and waits for it; it never settles, so once nothing in the ledger has moved for
    # ``hold_s`` the call is refused, and no further row starts.
    alive.hold_s = 0.2

    async def call(_tab: Tab) -> Paid:
        raise AssertionError("a call that does not fit must not be made")

    with pytest.raises(BudgetExceeded, match=r"budget reached.*did not settle"):
        await CallPolicy("pdl", budget=alive).run({"q": 1}, call, price=0.28)
    assert alive.exhausted and alive.waits == 1
    # Another run has its own ledger and cap.
    other = Budget(0.5, ledger=StoreLedger(store.run_ledgers, "run-b", cap))
    other.reserve(Reservation("pdl"), 0.28)
    a, b = store.ledger("run-a"), store.ledger("run-b")
    assert a is not None and b is not None
    assert (a.cap, a.reserved, a.spent) == (cap, 280_000_000, 0)
    assert (b.cap, b.reserved) == (cap, 280_000_000)


@pytest.mark.parametrize("reported", [float("inf"), float("nan"), -1.0, 1e400, 10**400, "0.1"])
async def test_a_hostile_cost_is_refused_and_counted_at_its_reservation(
    store: LeadStore, reported: object
) -> None:
    """A provider's cost that is not a finite, non-negative, bounded amount never reaches
    the ledger: the call fails with one line and is counted at what it reserved."""
    budget = Budget(1.0, ledger=StoreLedger(store.run_ledgers, "run-h", NANOS_PER_USD))
    policy = CallPolicy("pdl", budget=budget)

    async def call(_tab: Tab) -> Paid:
        return Paid({"email": "ada@example.com"}, reported)  # type: ignore[arg-type]

    refused = pytest.raises(InvalidAnswer, match="pdl: the reported cost of a call")
    with metered() as meter, refused as caught:
        await policy.run({"q": 1}, call, price=0.28)
    assert caught.value.cost == pytest.approx(0.28)
    assert meter.total == pytest.approx(0.28)  # the node's result will carry it
    totals = store.ledger("run-h")
    assert totals is not None and (totals.reserved, totals.spent) == (0, 280_000_000)


async def test_a_call_that_fails_after_paying_is_settled_at_its_cost(store: LeadStore) -> None:
    budget = Budget(1.0, ledger=StoreLedger(store.run_ledgers, "run-f", NANOS_PER_USD))
    policy = CallPolicy("llm", budget=budget)

    async def call(tab: Tab) -> Paid:
        await tab.reserve(0.2)  # a second billed question, reserved before it is sent
        raise InvalidAnswer("llm: no valid answer after 2 attempts", cost=0.15)

    with metered() as meter, pytest.raises(InvalidAnswer):
        await policy.run({"q": 2}, call, price=0.1)
    assert meter.total == pytest.approx(0.15)
    totals = store.ledger("run-f")
    assert totals is not None and (totals.reserved, totals.spent) == (0, 150_000_000)


def test_ledgers_of_runs_long_over_are_pruned_when_a_run_closes(
    store: LeadStore, tmp_path: Path
) -> None:
    """``run_ledgers`` kept a row for every capped run forever. A run that closes now drops
    the ledgers opened more than ``LEDGER_RETENTION`` ago, and keeps every younger one (a
    run still going on, or its chain's next workflow, reserves against it) and its own."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from lead_pipeline.engine import RunOptions, WorkflowRun
    from lead_pipeline.engine.registry import registry
    from lead_pipeline.engine.workflow_run import LEDGER_RETENTION
    from lead_pipeline.store.schema import run_ledgers
    from lead_pipeline.workflows.loader import load_workflows

    cap = to_nanos(1.0, "cap")
    now = datetime.now(UTC)
    ages = {"old": LEDGER_RETENTION + timedelta(hours=1), "young": LEDGER_RETENTION / 2}
    for key, age in ages.items():
        store.open_ledger(key, cap)
        with store.engine.begin() as conn:  # opened that long ago
            conn.execute(
                update(run_ledgers).where(run_ledgers.c.run_key == key).values(opened_at=now - age)
            )
    folder = tmp_path / "wf"
    folder.mkdir()
    (folder / "lengths.yaml").write_text(
        "name: lengths\nnodes:\n  - id: size\n    type: expression\n"
        "    values: {size: 'len(name)'}\n    outputs: {size: integer}\n"
    )
    [workflow] = load_workflows([folder], builtin_dirs=[], node_types=registry())
    store.import_rows("demo", [("a", {"name": "Acme"})])
    run = WorkflowRun(store, workflow, "demo", RunOptions(max_cost=0.5), owner="run-now")
    selection = run.select(dagster_run_id="run-now")
    assert run.close(selection, [run.run_shard(s) for s in run.shards(selection)]).ok == 1
    assert store.ledger("old") is None
    assert store.ledger("young") is not None
    assert store.ledger("run-now") is not None  # its own: the chain's next workflow needs it
