"""One Serper search answered by a gzip bomb: the time and peak memory it costs a process.

    .venv/bin/python benchmarks/answer_bomb.py --inflated-mb 100
    .venv/bin/python benchmarks/answer_bomb.py --inflated-mb 1000

The stand-in Serper server (lead_pipeline_tests/servers) runs in a child process and
answers with a gzip stream of that many MB of zeros (1 GB is about 1 MB on the wire);
this process makes the one call a ``web_search`` node makes and prints the outcome, the
wall time of the call and this process's peak RSS (``ru_maxrss``) before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the stand-in servers


def serve(inflated: int, ready: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    from lead_pipeline_tests.servers import Reply, SerperServer

    with SerperServer() as server:
        for _ in range(10):
            server.script(Reply(json={"searchParameters": {}}, gzip_bomb=inflated))
        ready.put(server.env())
        time.sleep(3600)


async def call() -> str:
    from lead_pipeline.providers import ProviderError, ProviderSession, Timeouts, web_search

    async with ProviderSession(timeouts=Timeouts(total=60)) as session:
        try:
            response = await web_search("acme", session=session)
        except ProviderError as exc:
            return f"refused: {exc}"
        return f"ok: {len(response.data)} results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inflated-mb", type=int, default=1000)
    args = parser.parse_args()
    ready: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    server = multiprocessing.Process(
        target=serve, args=(args.inflated_mb * 1_000_000, ready), daemon=True
    )
    server.start()
    os.environ.update(ready.get(timeout=60))
    import lead_pipeline.providers.search  # noqa: F401  (imports out of the measurement)

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    outcome = asyncio.run(call())
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    server.terminate()
    print(outcome)
    print(f"inflated size offered: {args.inflated_mb} MB")
    print(f"call wall time: {elapsed:.2f} s")
    print(f"peak RSS: {before / 1024:.0f} MB before the call, {after / 1024:.0f} MB after")


if __name__ == "__main__":
    main()
