"""Start the server that forks a run's step processes before the run asks for it.

With the multiprocess executor, every step process is forked from one
forkserver that has imported Dagster and built the code location
(``defs/preload.py``): 1.5-2 s of work on two cores. Dagster starts that server
when the run launches its first step, so the first step waits for all of it.
``enrich`` starts it as soon as it knows a run will be launched; the server's
imports then overlap the command's own (Dagster, the instance, the run's start),
and Dagster finds it running and forks from it (``ensure_running`` starts a
server only when none is alive).

The server inherits this process's environment and file descriptor 2 at the
moment it starts, so it must start after the launcher is marked
(``engine.runlock.mark_launcher``) and while fd 2 points at the step log.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver

from lead_pipeline.defs import STEP_PRELOAD
from lead_pipeline.settings import get_settings


def start_step_server() -> bool:
    """Start the step server in the background unless steps run elsewhere; never waits.

    Returns whether this executor forks its steps from one (the multiprocess executor).
    """
    if get_settings().executor != "multiprocess":
        return False  # Celery and Kubernetes run steps in their own workers
    multiprocessing.get_context("forkserver").set_forkserver_preload(list(STEP_PRELOAD))
    multiprocessing.forkserver.ensure_running()
    return True
