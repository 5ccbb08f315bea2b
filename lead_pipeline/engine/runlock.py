"""Keeping a run's lock alive while its shards work, without knowing about Dagster.

The store's run lock lets one run of a workflow work on a lead list at a time;
a second run is refused instead of paying for the same rows again. The run
takes the lock when it selects its rows, and every shard heartbeats it while it
works. A run whose processes were killed stops heartbeating, so a later run
takes the lock over once the heartbeat is older than the stale threshold: a
crash never blocks a list for longer than that.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from lead_pipeline.settings import env_name, get_settings
from lead_pipeline.store import LeadStore, RunLock

log = logging.getLogger(__name__)

STALE_ENV = env_name("run_lock_stale_s")
# Several heartbeats per stale period, so one slow database write does not make
# a live run look dead.
BEATS_PER_STALE_PERIOD = 4


class LockLost(Exception):
    """Another run took this run's lock over; the shard stopped starting rows."""


def stale_after_s() -> float:
    """Seconds without a heartbeat after which a run lock is taken over."""
    return get_settings().run_lock_stale_s


@dataclass
class LockKeeper:
    """Heartbeats one run's lock from inside a shard, and notices when it is lost."""

    store: LeadStore
    lead_list: str
    workflow: str
    owner: str
    stale_after_s: float
    lost_to: RunLock | None = None

    @property
    def lost(self) -> bool:
        return self.lost_to is not None

    @property
    def interval_s(self) -> float:
        return max(0.05, self.stale_after_s / BEATS_PER_STALE_PERIOD)

    def beat(self) -> bool:
        """One heartbeat; re-takes a lock that vanished, gives up one another run holds."""
        if self.store.heartbeat_run_lock(self.lead_list, self.workflow, self.owner):
            return True
        attempt = self.store.acquire_run_lock(
            self.lead_list, self.workflow, self.owner, self.stale_after_s
        )
        if not attempt.acquired:
            self.lost_to = attempt.holder
        return attempt.acquired

    async def keep(self) -> None:
        """Heartbeat until cancelled or until the lock is lost."""
        while not self.lost:
            await asyncio.sleep(self.interval_s)
            try:
                await asyncio.to_thread(self.beat)
            except Exception as exc:  # a database hiccup must not stop the rows
                log.warning("run lock heartbeat failed (will retry): %s", exc)

    def lost_message(self) -> str:
        holder = self.lost_to
        who = f"run {holder.owner}" if holder is not None else "another run"
        return (
            f"{self.workflow} on {self.lead_list}: the run lock was taken over by {who} "
            f"(this run's heartbeat was older than {self.stale_after_s:.0f}s); this shard "
            "stopped starting rows"
        )
