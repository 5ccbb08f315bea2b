"""CPU per row per node of the engine alone, outside the provider and outside Dagster.

    .venv/bin/python benchmarks/engine_cpu.py --rows 2000 --parallel 50

Runs one shard of a one-node ``llm`` workflow in this process (template, cache
lookup, HTTP call, answer validation, cache write, result write to a SQLite
store) against the OpenAI stand-in in another process, and divides this
process's CPU time by the rows. ``--profile`` prints the top functions.
"""

from __future__ import annotations

import argparse
import cProfile
import multiprocessing
import os
import pstats
import tempfile
import time
from pathlib import Path

from pipeline import BENCH_LLM, lead_rows, serve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--parallel", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--expression",
        action="store_true",
        help="the big-list benchmark's one expression node instead of the llm node",
    )
    args = parser.parse_args()

    box: multiprocessing.Queue = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(box, args.latency, None, 0.0), daemon=True)
    server.start()
    base_url, key = box.get(timeout=30)
    os.environ.update(OPENAI_BASE_URL=base_url, OPENAI_API_KEY=key)

    from lead_pipeline.engine.options import RunOptions
    from lead_pipeline.engine.registry import registry
    from lead_pipeline.engine.runner import run_shard
    from lead_pipeline.engine.selection import make_shards, select_rows
    from lead_pipeline.store import LeadStore
    from lead_pipeline.workflows.loader import load_workflows

    work = Path(tempfile.mkdtemp(prefix="lead-pipeline-engine-"))
    (work / "wf").mkdir()
    if args.expression:
        from big_list import WORKFLOW as EXPRESSION

        (work / "wf" / "bench.yaml").write_text(EXPRESSION)
    else:
        (work / "wf" / "bench.yaml").write_text(BENCH_LLM)
    (workflow,) = load_workflows([work / "wf"], builtin_dirs=[], node_types=registry())
    store = LeadStore(f"sqlite:///{work / 'store.db'}")
    store.import_rows("bench", [(r["bench_id"], r) for r in lead_rows(args.rows)])
    options = RunOptions(parallel=args.parallel, max_shards=1, shard_size=args.rows)
    (shard,) = make_shards(select_rows(store, workflow, "bench", options), options)

    profile = cProfile.Profile()
    wall, cpu = time.perf_counter(), time.process_time()
    if args.profile:
        profile.enable()
    summary = run_shard(store, workflow, shard, options)
    profile.disable()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        f"rows={args.rows} parallel={args.parallel} latency={args.latency}s: "
        f"{summary.ok} ok, {summary.failed} failed"
    )
    print(f"wall {wall:.1f} s, ideal {-(-args.rows // args.parallel) * args.latency:.1f} s")
    print(f"engine cpu per row per node {1000 * cpu / args.rows:.2f} ms")
    if args.profile:
        stats = pstats.Stats(profile)
        stats.sort_stats("tottime").print_stats(20)
        if os.environ.get("ENGINE_CPU_CALLERS"):
            stats.print_callers(os.environ["ENGINE_CPU_CALLERS"])
    server.terminate()


if __name__ == "__main__":
    main()
