"""How long a step process outlives the ``enrich`` command that launched it, once that
command is killed (SIGKILL): the watchdog alone, and with ``PR_SET_PDEATHSIG`` as well.

    .venv/bin/python benchmarks/orphan_steps.py --runs 5

A stand-in command marks itself as the launcher (``engine.runlock.mark_launcher``) and
starts a step process from a forkserver, as ``enrich`` does; the step calls
``watch_launcher`` and sleeps. This process kills the command, reaps it at once (as a
shell does) and times until the step is gone. ``prctl + watchdog`` sets the parent-death
signal in the step first, as ``watch_launcher`` did before (``engine/runlock.py``).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMAND = """
import multiprocessing, os, sys, time
from pathlib import Path

def step(pid_file, prctl):
    if prctl:  # what watch_launcher did before: be killed when the parent dies
        import ctypes, signal
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    from lead_pipeline.engine.runlock import watch_launcher
    watch_launcher()
    Path(pid_file).write_text(str(os.getpid()))
    time.sleep(600)

if __name__ == "__main__":
    from lead_pipeline.engine.runlock import mark_launcher
    mark_launcher()
    context = multiprocessing.get_context("forkserver")
    context.Process(target=step, args=(sys.argv[1], sys.argv[2] == "1")).start()
    time.sleep(600)
"""


def gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")


def once(prctl: bool, folder: Path) -> float:
    script, pid_file = folder / "command.py", folder / "step.pid"
    script.write_text(COMMAND)
    pid_file.unlink(missing_ok=True)
    command = subprocess.Popen([sys.executable, str(script), str(pid_file), str(int(prctl))])
    while not pid_file.exists() or not pid_file.read_text():
        time.sleep(0.01)
    step = int(pid_file.read_text())
    os.kill(command.pid, signal.SIGKILL)
    command.wait()
    killed = time.perf_counter()
    while not gone(step):
        time.sleep(0.005)
    return time.perf_counter() - killed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for label, prctl in (("prctl + watchdog", True), ("watchdog only", False)):
            times = [once(prctl, Path(folder)) for _ in range(args.runs)]
            listed = ", ".join(f"{t:.3f}" for t in times)
            median = statistics.median(times)
            print(f"{label:16}  the step outlived the command by {median:.3f} s ({listed})")


if __name__ == "__main__":
    main()
