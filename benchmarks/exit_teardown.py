"""How long ``lead-pipeline`` takes to end once it has printed its last line.

    .venv/bin/python benchmarks/exit_teardown.py --runs 5

Each run is a child process that imports what ``enrich`` has loaded by its end (the
command, the Dagster definitions, the launcher, pandas, SQLAlchemy), prints a line and
ends: ``plain`` by the interpreter's usual teardown, ``freeze`` after ``gc.freeze()``
(what ``lead_pipeline.cli.entry`` does). The figure is the wall time from that line to
the child's exit, the median of the runs.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

CHILD = """
import gc, sys
import pandas, sqlalchemy
import lead_pipeline.cli, lead_pipeline.defs.definitions, lead_pipeline.launching.launch
print("last line", flush=True)
if sys.argv[1] == "freeze":
    gc.freeze()
sys.exit(0)
"""


def after_last_line(variant: str) -> float:
    child = subprocess.Popen([sys.executable, "-c", CHILD, variant], stdout=subprocess.PIPE)
    assert child.stdout is not None
    child.stdout.readline()
    printed = time.perf_counter()
    child.wait()
    return time.perf_counter() - printed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    for variant in ("plain", "freeze"):
        times = [after_last_line(variant) for _ in range(args.runs)]
        listed = ", ".join(f"{t:.3f}" for t in times)
        median = statistics.median(times)
        print(f"{variant:6}  median {median:.3f} s after the last line ({listed})")


if __name__ == "__main__":
    main()
