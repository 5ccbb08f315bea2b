"""Keeping a run's lock alive while its shards work, without knowing about Dagster.

The store's run lock lets one run of a workflow work on a lead list at a time;
a second run is refused instead of paying for the same rows again. The run
takes the lock when it selects its rows, and every shard heartbeats it while it
works. A run whose processes were killed stops heartbeating, so a later run
takes the lock over once the heartbeat is older than the stale threshold: a
crash never blocks a list for longer than that.

A run started by ``lead-pipeline enrich`` does better: the command records itself (host, pid
and process start time: a :class:`Launcher`) in the lock, and a later run on the same host
that finds that process gone takes the lock over at once. Its step processes watch the same
process and end themselves when it dies, so no orphan keeps burning CPU or heartbeating a
lock nobody will release. Holders on other hosts keep the heartbeat rule: a pid means
nothing across machines.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from lead_pipeline.settings import env_name, export_setting, get_settings
from lead_pipeline.store import LeadStore, RunLock

log = logging.getLogger(__name__)

STALE_ENV = env_name("run_lock_stale_s")
WATCH_INTERVAL_S = 1.0
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
        launcher = current_launcher()
        attempt = self.store.acquire_run_lock(
            self.lead_list,
            self.workflow,
            self.owner,
            self.stale_after_s,
            holder=launcher.text() if launcher else None,
            holder_gone=holder_is_gone,
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


# --------------------------------------------------------------------------- the launching process


def _start_time(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, from /proc), or None where
    /proc is not available; with the pid it names one process even after pids wrap."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ")".
    fields = stat.rsplit(")", 1)[1].split()
    return fields[19] if len(fields) > 19 else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


@dataclass(frozen=True)
class Launcher:
    """The process that started a run: recorded in its lock and in its Dagster run's tags."""

    host: str
    pid: int
    started: str | None

    @classmethod
    def this_process(cls) -> Launcher:
        pid = os.getpid()
        return cls(socket.gethostname(), pid, _start_time(pid))

    @classmethod
    def parse(cls, text: str | None) -> Launcher | None:
        """From :meth:`text`; None for anything else (an old lock, a run not from the CLI)."""
        parts = (text or "").split()
        if len(parts) != 3 or not parts[1].isdigit():
            return None
        return cls(parts[0], int(parts[1]), None if parts[2] == "-" else parts[2])

    def text(self) -> str:
        return f"{self.host} {self.pid} {self.started or '-'}"

    def is_gone(self) -> bool:
        """True only when this process was on this host and no longer exists; a process on
        another host is never judged from here."""
        if self.host != socket.gethostname():
            return False
        if not _alive(self.pid):
            return True
        return self.started is not None and _start_time(self.pid) not in (None, self.started)


def holder_is_gone(text: str | None) -> bool:
    """For the store: whether a lock's recorded launcher is a process known to be dead."""
    launcher = Launcher.parse(text)
    return launcher is not None and launcher.is_gone()


def mark_launcher() -> Launcher:
    """Record this process as the launcher of the runs it starts; its step processes
    inherit the variable (and so find the process to watch and to name in the lock)."""
    launcher = Launcher.this_process()
    export_setting("run_launcher", launcher.text())
    return launcher


def current_launcher() -> Launcher | None:
    """The launcher of the run this process works for, when ``lead-pipeline enrich`` started it."""
    return Launcher.parse(get_settings().run_launcher)


_watching = threading.Lock()
_watcher: threading.Thread | None = None


def watch_launcher() -> None:
    """In a step process: die with the command that launched the run.

    A watchdog thread checks the launcher every second, since the step's parent is a
    fork server or a run worker, not the command. ``benchmarks/orphan_steps.py --runs 5``
    (a command killed with SIGKILL, its forkserver step watching it) measured the step
    gone 1.02 and 1.03 s after the kill (medians of two sets of runs, load average 22);
    with ``prctl(PR_SET_PDEATHSIG)`` set through ctypes as well, as this did before,
    1.01 and 1.01 s: the watchdog ended the step first every time (its log line), so
    the ``prctl`` earned nothing and was dropped.
    Nothing happens outside a run the command launched, or in the command's own process.
    """
    global _watcher
    launcher = current_launcher()
    if launcher is None or launcher.pid == os.getpid() or launcher.host != socket.gethostname():
        return
    with _watching:
        if _watcher is not None and _watcher.is_alive():
            return
        _watcher = threading.Thread(
            target=_watch, args=(launcher,), name="launcher-watchdog", daemon=True
        )
        _watcher.start()


def _watch(launcher: Launcher) -> None:
    while not launcher.is_gone():
        time.sleep(WATCH_INTERVAL_S)
    log.error("the command that launched this run (pid %s) is gone: stopping", launcher.pid)
    os.kill(os.getpid(), signal.SIGKILL)
