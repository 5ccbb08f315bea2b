"""Worker body for the run-lock race: its own module so spawned processes import only the store."""

from __future__ import annotations

import traceback
from datetime import datetime
from typing import Any

from lead_pipeline.store import LeadStore


def race_for_lock(
    url: str, lead_list: str, owner: str, now: datetime | None, barrier: Any, out: Any
) -> None:
    """Try to take the lock at the same moment as the other processes; report what happened."""
    try:
        store = LeadStore(url, upgrade=False)
        barrier.wait(timeout=120)
        attempt = store.acquire_run_lock(lead_list, "wf", owner, 60, now=now)
        store.dispose()
        replaced = attempt.replaced.owner if attempt.replaced else None
        out.put((owner, attempt.acquired, attempt.holder.owner, replaced, None))
    except BaseException:
        out.put((owner, False, None, None, traceback.format_exc()))
