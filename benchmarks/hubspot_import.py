"""``lead-pipeline import hubspot`` of a large portal: wall time and the command's peak memory.

    .venv/bin/python benchmarks/hubspot_import.py --companies 1000
    .venv/bin/python benchmarks/hubspot_import.py --companies 100000

The HubSpot stand-in (lead_pipeline_tests/servers) runs in a child process with that
many companies (about 400 bytes of properties each) and HubSpot's pace lifted; the
import runs as the real command in another child process, into a fresh SQLite store, by
every company (``GET /crm/v3/objects/companies``, 100 a page). Printed: the rows, the
wall time, and the command's peak RSS (``ru_maxrss`` of the waited child). Pages are
staged in a temporary file, so the peak should grow with the ids (tens of bytes a row),
not with the companies' properties.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the stand-in servers


def serve(companies: int, ready: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    from lead_pipeline_tests.servers import HubSpotServer

    with HubSpotServer(per_window=10**9, search_per_second=10**6) as server:
        for i in range(companies):
            server.add_company(
                name=f"Company {i}",
                domain=f"company{i}.com",
                description=f"Company {i} makes industrial software for mid-sized firms. " * 4,
                industry="COMPUTER_SOFTWARE",
                numberofemployees=str(10 + i % 5000),
                country="United States",
            )
        ready.put(server.env())
        time.sleep(24 * 3600)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--companies", type=int, default=100_000)
    args = parser.parse_args()
    ready: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    server = multiprocessing.Process(target=serve, args=(args.companies, ready), daemon=True)
    server.start()
    env = ready.get(timeout=600)
    with tempfile.TemporaryDirectory() as data:
        pace = {"hubspot": {"requests_per_second": 10_000, "max_in_flight": 4}}
        child_env = {
            **os.environ,
            **env,
            "LEAD_PIPELINE_DATA_DIR": data,
            "LEAD_PIPELINE_RATE_LIMITS": json.dumps(pace),
        }
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "lead_pipeline.cli", "import", "hubspot", "--lead", "big"],
            env=child_env,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    server.terminate()
    if done.returncode != 0:
        sys.exit(f"import failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    print(f"companies: {args.companies:,}")
    print(f"wall time: {wall:.1f} s")
    print(f"peak RSS of the import command: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
