"""The run lock in the store, on SQLite and PostgreSQL: one holder, takeover when stale."""

from __future__ import annotations

import multiprocessing
import socket
import subprocess
import sys
from datetime import timedelta

import pytest

from lead_pipeline.engine.runlock import Launcher, holder_is_gone
from lead_pipeline.store import InvalidNameError, LeadStore
from lead_pipeline.store.shared import utcnow
from lead_pipeline_tests.reliability import _lock_workers

STALE = 120.0


@pytest.fixture
def demo(store: LeadStore) -> LeadStore:
    store.import_rows("demo", [("a", {"name": "A"})])
    return store


def test_one_holder_at_a_time_and_the_refusal_names_it(demo: LeadStore) -> None:
    first = demo.acquire_run_lock("demo", "wf", "run-a", STALE)
    assert first.acquired and first.holder.owner == "run-a" and first.replaced is None
    second = demo.acquire_run_lock("demo", "wf", "run-b", STALE)
    assert not second.acquired
    assert second.holder.owner == "run-a"
    assert second.holder.acquired_at == first.holder.acquired_at
    # Another workflow, or the same workflow on another list, is not in the way.
    assert demo.acquire_run_lock("demo", "other", "run-b", STALE).acquired
    assert demo.acquire_run_lock("elsewhere", "wf", "run-b", STALE).acquired


def test_the_holder_may_take_it_again_and_that_is_a_heartbeat(demo: LeadStore) -> None:
    first = demo.acquire_run_lock("demo", "wf", "run-a", STALE)
    later = utcnow() + timedelta(seconds=30)
    again = demo.acquire_run_lock("demo", "wf", "run-a", STALE, now=later)
    assert again.acquired and again.replaced is None
    assert again.holder.acquired_at == first.holder.acquired_at
    assert demo.run_lock("demo", "wf").heartbeat_at == later  # type: ignore[union-attr]


def test_heartbeat_and_release_only_by_the_holder(demo: LeadStore) -> None:
    demo.acquire_run_lock("demo", "wf", "run-a", STALE)
    assert demo.heartbeat_run_lock("demo", "wf", "run-b") is False
    assert demo.release_run_lock("demo", "wf", "run-b") is False
    assert demo.run_lock("demo", "wf").owner == "run-a"  # type: ignore[union-attr]
    assert demo.heartbeat_run_lock("demo", "wf", "run-a") is True
    assert demo.release_run_lock("demo", "wf", "run-a") is True
    assert demo.run_lock("demo", "wf") is None
    assert demo.heartbeat_run_lock("demo", "wf", "run-a") is False
    assert demo.acquire_run_lock("demo", "wf", "run-b", STALE).acquired


def test_a_lock_without_heartbeat_is_taken_over_and_its_run_marked_abandoned(
    demo: LeadStore,
) -> None:
    start = utcnow()
    demo.acquire_run_lock("demo", "wf", "run-a", STALE, now=start)
    dead = demo.start_run("demo", "wf", {}, dagster_run_id="run-a")
    unrelated = demo.start_run("demo", "wf", {}, dagster_run_id="run-z")
    fresh = start + timedelta(seconds=STALE - 1)
    assert not demo.acquire_run_lock("demo", "wf", "run-b", STALE, now=fresh).acquired
    stale = start + timedelta(seconds=STALE + 1)
    taken = demo.acquire_run_lock("demo", "wf", "run-b", STALE, now=stale)
    assert taken.acquired and taken.holder.owner == "run-b"
    assert taken.replaced is not None and taken.replaced.owner == "run-a"
    # The dead run's processes, if any woke up, learn that the lock is gone.
    assert demo.heartbeat_run_lock("demo", "wf", "run-a") is False
    assert demo.release_run_lock("demo", "wf", "run-a") is False
    runs = {r["id"]: r for r in demo.recent_runs("demo")}
    assert runs[dead]["status"] == "abandoned"
    assert "taken over by run run-b" in runs[dead]["message"]
    assert runs[unrelated]["status"] == "running"


def test_a_heartbeat_keeps_the_lock_from_going_stale(demo: LeadStore) -> None:
    start = utcnow()
    demo.acquire_run_lock("demo", "wf", "run-a", STALE, now=start)
    beat = start + timedelta(seconds=STALE - 1)
    assert demo.heartbeat_run_lock("demo", "wf", "run-a", now=beat)
    later = start + timedelta(seconds=STALE + 1)  # stale by acquired_at, fresh by heartbeat
    assert not demo.acquire_run_lock("demo", "wf", "run-b", STALE, now=later).acquired


def test_a_lock_of_a_run_known_to_have_ended_is_taken_at_once(demo: LeadStore) -> None:
    demo.acquire_run_lock("demo", "wf", "run-a", STALE)
    # Naming the wrong run does not help: only the holder's own id frees the lock.
    assert not demo.acquire_run_lock("demo", "wf", "run-b", STALE, take_from="run-x").acquired
    taken = demo.acquire_run_lock("demo", "wf", "run-b", STALE, take_from="run-a")
    assert taken.acquired and taken.replaced is not None and taken.replaced.owner == "run-a"


def test_hostile_list_names_are_refused_before_any_query(demo: LeadStore) -> None:
    with pytest.raises(InvalidNameError):
        demo.acquire_run_lock("demo'; DROP TABLE run_locks; --", "wf", "run-a", STALE)
    assert demo.acquire_run_lock("demo", "wf", "run-a", STALE).acquired


def _race(db_url: str, now_offset_s: float | None, workers: int = 4) -> list[tuple]:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(workers)
    out = ctx.Queue()
    now = None if now_offset_s is None else utcnow() + timedelta(seconds=now_offset_s)
    procs = [
        ctx.Process(
            target=_lock_workers.race_for_lock,
            args=(db_url, "demo", f"racer-{i}", now, barrier, out),
        )
        for i in range(workers)
    ]
    for proc in procs:
        proc.start()
    reports = [out.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
    failures = [r[4] for r in reports if r[4] is not None]
    assert failures == [], "\n".join(failures)
    return reports


def test_processes_racing_for_a_free_lock_one_wins(demo: LeadStore, db_url: str) -> None:
    reports = _race(db_url, None)
    winners = [owner for owner, acquired, *_ in reports if acquired]
    assert len(winners) == 1
    # Every loser was told who won.
    assert {holder for _, acquired, holder, *_ in reports if not acquired} == set(winners)
    assert demo.run_lock("demo", "wf").owner == winners[0]  # type: ignore[union-attr]


def test_processes_racing_to_take_over_a_stale_lock_one_wins(demo: LeadStore, db_url: str) -> None:
    demo.acquire_run_lock("demo", "wf", "dead-run", STALE)
    reports = _race(db_url, STALE * 2)  # every racer sees the dead run's lock as stale
    winners = [(owner, replaced) for owner, acquired, _, replaced, _ in reports if acquired]
    assert len(winners) == 1 and winners[0][1] == "dead-run"
    assert demo.run_lock("demo", "wf").owner == winners[0][0]  # type: ignore[union-attr]


# --------------------------------------------------------------------------- the launching process


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_lock_whose_launching_process_is_gone_is_taken_at_once(demo: LeadStore) -> None:
    """A ``kill -9`` of the CLI leaves a fresh heartbeat behind; its dead pid frees the lock."""
    dead = Launcher(socket.gethostname(), _dead_pid(), None)
    demo.acquire_run_lock("demo", "wf", "run-a", STALE, holder=dead.text())
    record = demo.start_run("demo", "wf", {}, dagster_run_id="run-a")
    assert demo.run_lock("demo", "wf").holder == dead.text()  # type: ignore[union-attr]
    # Without the check, the heartbeat rule refuses for the whole stale period.
    assert not demo.acquire_run_lock("demo", "wf", "run-b", STALE).acquired
    mine = Launcher.this_process()
    taken = demo.acquire_run_lock(
        "demo", "wf", "run-b", STALE, holder=mine.text(), holder_gone=holder_is_gone
    )
    assert taken.acquired and taken.replaced is not None and taken.replaced.owner == "run-a"
    assert demo.run_lock("demo", "wf").holder == mine.text()  # type: ignore[union-attr]
    runs = {r["id"]: r for r in demo.recent_runs("demo")}
    assert runs[record]["status"] == "abandoned"
    assert "launching process" in runs[record]["message"] and "is gone" in runs[record]["message"]


def test_a_lock_whose_launcher_is_alive_or_elsewhere_keeps_the_heartbeat_rule(
    demo: LeadStore,
) -> None:
    start = utcnow()
    holders = {
        "alive": Launcher.this_process(),
        "another host": Launcher("build-server-7", _dead_pid(), None),
    }
    for workflow, holder in holders.items():
        name = workflow.replace(" ", "_")
        demo.acquire_run_lock("demo", name, "run-a", STALE, holder=holder.text(), now=start)
        fresh = start + timedelta(seconds=STALE - 1)
        kw = {"holder_gone": holder_is_gone}
        refused = demo.acquire_run_lock("demo", name, "run-b", STALE, now=fresh, **kw)
        assert not refused.acquired, workflow
        assert refused.holder.holder == holder.text()
        stale = start + timedelta(seconds=STALE + 1)
        assert demo.acquire_run_lock("demo", name, "run-b", STALE, now=stale, **kw).acquired


def test_a_reused_pid_is_not_the_launcher() -> None:
    """The start time tells the launcher from a later process that got its pid."""
    me = Launcher.this_process()
    assert not me.is_gone()
    if me.started is None:
        pytest.skip("no /proc here: the pid alone is checked")
    assert Launcher(me.host, me.pid, str(int(me.started) + 1)).is_gone()
    assert not Launcher("another-host", _dead_pid(), None).is_gone()
    assert Launcher.parse("nonsense") is None and Launcher.parse(None) is None
    assert Launcher.parse(me.text()) == me
