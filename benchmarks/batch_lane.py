"""The same ``b2b_only`` LLM pass in both lanes: the recorded cost of each, and the time
and memory to submit and to collect the batch lane.

    .venv/bin/python benchmarks/batch_lane.py --rows 10000

``llm_threshold=1.0`` sends every row to the LLM. The OpenAI stand-in (synchronous and
Batch APIs, lead_pipeline_tests/servers/llm_batch.py) answers from a child process, so
the figures are the engine's own; each lane runs on a store of its own (so the batch
lane finds nothing in the synchronous lane's cache), without Dagster. Prints both
lanes' recorded cost, the ratio (the goal: 50% within 1%), the wall and CPU time to
submit and to collect (on a busy machine the CPU time says more than the wall time),
and the peak RSS of the engine's process and of the stand-in's.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the stand-in servers

from pipeline import lead_rows


def _serve(conn: Any) -> None:
    """The stand-in, in a child process: ``end`` ends its batches, ``stop`` stops it and
    answers this process's peak RSS (MiB) and CPU seconds."""
    from lead_pipeline_tests.servers.llm_batch import OpenAIBatchServer

    server = OpenAIBatchServer(usage=(400, 40)).start()
    conn.send(server.env())
    while True:
        command = conn.recv()
        if command == "end":
            server.end()
            conn.send("ended")
        else:
            server.stop()
            usage = resource.getrusage(resource.RUSAGE_SELF)
            conn.send((usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime))
            return


class StandIn:
    """The OpenAI batch stand-in running in a child process."""

    def __init__(self) -> None:
        self.conn, child = multiprocessing.get_context("fork").Pipe()
        self.process = multiprocessing.get_context("fork").Process(
            target=_serve, args=(child,), daemon=True
        )
        self.process.start()
        self.env: dict[str, str] = self.conn.recv()

    def end(self) -> None:
        self.conn.send("end")
        self.conn.recv()

    def stop(self) -> tuple[float, float]:
        self.conn.send("stop")
        peak, cpu = self.conn.recv()
        self.process.join()
        return peak, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--parallel", type=int, default=50)
    parser.add_argument("--skip-sync", action="store_true", help="the batch lane only")
    parser.add_argument("--submit-only", action="store_true", help="stop once submitted")
    args = parser.parse_args()

    server = StandIn()
    os.environ.update(server.env)
    os.environ["LEAD_PIPELINE_PRICES"] = json.dumps({"gpt-4o-mini": [0.15, 0.60]})

    from lead_pipeline.engine.options import RunOptions
    from lead_pipeline.engine.registry import registry
    from lead_pipeline.engine.workflow_run import WorkflowRun
    from lead_pipeline.settings import get_settings, reset_settings
    from lead_pipeline.store import LeadStore
    from lead_pipeline.workflows.loader import load_workflows

    reset_settings()
    settings = get_settings()
    workflow = next(w for w in load_workflows(node_types=registry()) if w.name == "b2b_only")
    rows = [(r["bench_id"], r) for r in lead_rows(args.rows)]
    work = Path(tempfile.mkdtemp(prefix="lead-pipeline-batch-"))

    def one_run(store: LeadStore, **options: object) -> tuple[float, float]:
        """The wall and CPU seconds of one run."""
        started, cpu = time.perf_counter(), time.process_time()
        opts = RunOptions(
            parallel=args.parallel, max_shards=1, params={"llm_threshold": 1.0}, **options
        )
        run = WorkflowRun(store, workflow, "bench", opts, settings=settings)
        selection = run.select()
        run.close(selection, [run.run_shard(shard) for shard in run.shards(selection)])
        return time.perf_counter() - started, time.process_time() - cpu

    def llm_cost(store: LeadStore) -> tuple[float, int]:
        found = store.results("bench", ["b2b_only"])
        results = [r[("b2b_only", "llm_check")] for r in found.values()]
        return sum(r.cost for r in results), sum(r.status == "ok" for r in results)

    sync_cost = None
    if not args.skip_sync:
        sync = LeadStore(f"sqlite:///{work / 'sync.db'}")
        sync.import_rows("bench", rows)
        seconds, cpu = one_run(sync)
        sync_cost, ok = llm_cost(sync)
        print(f"sync lane: {ok} ok, cost ${sync_cost:.4f}, {seconds:.1f} s ({cpu:.1f} s CPU)")

    batch = LeadStore(f"sqlite:///{work / 'batch.db'}")
    batch.import_rows("bench", rows)
    submit_s, submit_cpu = one_run(batch, lane="batch")
    submitted = batch.batches("bench")
    print(
        f"batch lane: submitted {sum(b.rows for b in submitted)} questions in "
        f"{len(submitted)} batch(es) in {submit_s:.1f} s ({submit_cpu:.1f} s CPU)"
    )
    if args.submit_only:
        print_peak_and_stop(server)
        return
    server.end()
    collect_s, collect_cpu = one_run(batch, lane="batch")
    batch_cost, ok = llm_cost(batch)
    print(
        f"batch lane: collected {ok} ok, cost ${batch_cost:.4f}, {collect_s:.1f} s "
        f"({collect_cpu:.1f} s CPU)"
    )
    if sync_cost:
        print(f"batch / sync cost: {batch_cost / sync_cost:.4f}")
    print_peak_and_stop(server)


def print_peak_and_stop(server: StandIn) -> None:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the engine's process: {peak:.0f} MiB")
    stand_in_peak, stand_in_cpu = server.stop()
    print(f"the stand-in's process: peak RSS {stand_in_peak:.0f} MiB, {stand_in_cpu:.1f} s CPU")


if __name__ == "__main__":
    main()
