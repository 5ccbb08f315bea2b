"""End-to-end throughput of an ``llm`` workflow through Dagster, against the physical limit.

    .venv/bin/python benchmarks/pipeline.py --rows 148 --parallel 5 --latency 2
    .venv/bin/python benchmarks/pipeline.py --rows 5000 --parallel 100 --latency 1 --rerun --yes
    .venv/bin/python benchmarks/pipeline.py --rows 600 --parallel 50 --latency 0.2 \\
        --server-rps 5 --client-rps 4.9
    .venv/bin/python benchmarks/pipeline.py --workflow bench_llm ...   # the second line

What runs: an OpenAI-compatible stand-in in its own process on 127.0.0.1
(configurable latency, requests-per-second limit answered with 429 +
Retry-After, failure rate); a lead list of R rows (the public YC data, scaled
up with new ids past 5,381); the README's command on the built-in ``b2b_only``
with every row sent to the LLM, ``lead-pipeline enrich --lead bench --workflow
b2b_only --parallel N --param llm_threshold=1.0`` (a parameter a user may type),
in a subprocess: the real path, with a persistent Dagster instance and the
multiprocess executor. ``--workflow bench_llm`` runs a one-node ``llm`` workflow
instead (no offline model before it), the engine's own line. Then the baseline: a
plain ``ThreadPoolExecutor(N)`` making the same calls (the same prompt and answer
schema), the simplest concurrent enricher. ``--yes`` is passed only when asked for,
and the output says so: a run the stand-in's prices put above $1 asks first.

Figures: wall time, the ideal ``max(ceil(R/N) x L, R/Q)``, their ratio, CPU
seconds per row of the whole pipeline process tree (Dagster included; the
stand-in excluded), peak RSS of that tree, growth of Dagster's storage (event
log), provider calls and 429s. ``--rerun`` times a second materialization of
the finished list, which should make no provider call.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2
import psutil

ROOT = Path(__file__).resolve().parents[1]
YC = ROOT.parent / "shared" / "data" / "yc"
sys.path.insert(0, str(ROOT))

BENCH_LLM = """\
name: bench_llm
description: one llm node per row, for the benchmark
nodes:
  - id: ask
    type: llm
    prompt: "Is {{ name }} ({{ website }}) a B2B company? {{ one_liner }}"
    outputs: {bench_b2b: boolean, bench_reason: string}
"""


def serve(
    port_box: multiprocessing.Queue, latency: float, rps: float | None, failure: float
) -> None:
    """The stand-in, in its own process so its CPU is not counted against the pipeline."""
    from lead_pipeline_tests.servers import OpenAIServer, Reply

    class Server(OpenAIServer):
        def handle(self, request):  # type: ignore[no-untyped-def]
            if request.path == "/__stats":
                answered = [r for r in self.requests if r.path != "/__stats"]
                return Reply(
                    json={
                        "requests": len(answered),
                        "limited": self.limited,
                        "first": self.first,
                        "last": self.last,
                    }
                )
            now = time.time()
            self.first = self.first or now
            self.last = now
            return super().handle(request)

        def _over_rate(self, now: float) -> bool:
            over = super()._over_rate(now)
            self.limited += over
            return over

    server = Server(latency=latency, rate_limit=rps, failure_rate=failure, retry_after="1")
    server.limited = 0
    server.first = server.last = 0.0
    server.start()
    port_box.put((server.base_url, server.api_key))
    threading.Event().wait()


def stats(base_url: str) -> dict[str, int]:
    return httpx2.get(base_url.removesuffix("/v1") + "/__stats", timeout=10).json()


def lead_rows(count: int) -> list[dict]:
    companies: list[dict] = []
    for path in sorted(YC.glob("*.json")):
        companies.extend(json.loads(path.read_text()))
    keep = ("name", "website", "one_liner", "long_description")
    rows = []
    for i in range(count):
        base = companies[i % len(companies)]
        row = {k: base.get(k) for k in keep}
        row["bench_id"] = f"r{i:06d}"  # scaled copies get ids of their own
        rows.append(row)
    return rows


def tree_usage(proc: psutil.Process, seen: dict[int, float]) -> float:
    """Sample the tree: remember each process's latest CPU time; return the tree's RSS.

    A process's own time only: counting its reaped children's as well counted every
    finished step process twice (once itself, once in the forkserver that reaped it).
    """
    rss = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            cpu = p.cpu_times()
            seen[p.pid] = cpu.user + cpu.system
            rss += p.memory_info().rss
        except psutil.Error:
            continue
    return rss


def run_cli(
    args: list[str], env: dict[str, str], wrapper: list[str] | None = None
) -> tuple[float, float, int, str]:
    """Run ``lead-pipeline`` and watch its process tree: wall, CPU seconds, peak RSS.

    ``wrapper`` comes before the command (a profiler that starts it, say).
    """
    started = time.perf_counter()
    proc = subprocess.Popen(
        [*(wrapper or []), sys.executable, "-m", "lead_pipeline.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    watched = psutil.Process(proc.pid)
    seen: dict[int, float] = {}
    peak = 0
    while proc.poll() is None:
        peak = max(peak, tree_usage(watched, seen))
        time.sleep(0.1)
    wall = time.perf_counter() - started
    out = proc.stdout.read() if proc.stdout else ""
    if proc.returncode != 0:
        raise SystemExit(f"lead-pipeline {' '.join(args)} failed:\n{out}")
    COMMAND_CPU["command"] = seen.get(proc.pid, 0.0)
    COMMAND_CPU["other processes"] = sum(cpu for pid, cpu in seen.items() if pid != proc.pid)
    return wall, sum(seen.values()), peak, out


# CPU seconds of the last ``run_cli``: the command's own process, and the rest of its tree
# (the step server and the Dagster step processes forked from it).
COMMAND_CPU: dict[str, float] = {}


def timeline(home: Path, env: dict[str, str], started: float) -> list[str]:
    """When each step of the latest Dagster run started and ended, from the command's start.

    Read from the run's event log, so the fixed cost can be split into its parts
    (the command's own start, the run's, each step's launch) without a profiler.
    """
    code = f"""
import os, dagster as dg
os.environ['DAGSTER_HOME'] = {str(home)!r}
with dg.DagsterInstance.get() as instance:
    run = instance.get_runs(limit=1)[0]
    for record in instance.all_logs(run.run_id):
        event = record.dagster_event
        if event is None or event.event_type_value not in (
            'PIPELINE_START', 'RUN_START', 'STEP_START', 'STEP_SUCCESS', 'STEP_FAILURE',
            'PIPELINE_SUCCESS', 'RUN_SUCCESS', 'PIPELINE_FAILURE', 'RUN_FAILURE',
            'PIPELINE_STARTING', 'RUN_STARTING'):
            continue
        print(record.timestamp, event.event_type_value, event.step_key or '')
"""
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    lines = []
    for line in out.splitlines():
        stamp, kind, *step = line.split(" ", 2)
        lines.append(f"  {float(stamp) - started:7.2f} s  {kind:<16} {' '.join(step)}")
    return lines


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


# What b2b_only's llm node asks and how its answer is shaped, for the thread pool.
SCHEMA = {
    "type": "object",
    "properties": {
        "is_b2b": {"type": "boolean"},
        "b2b_confidence": {"type": "number", "minimum": 0.5, "maximum": 1},
        "b2b_reason": {"type": "string"},
    },
    "required": ["is_b2b", "b2b_confidence", "b2b_reason"],
    "additionalProperties": False,
}


def prompt(row: dict) -> str:
    description = " ".join(str(row.get("long_description") or "").split()[:250])
    return (
        "Does this company sell mainly to businesses (B2B) rather than to consumers?\n"
        f"Name: {row['name']}\nWebsite: {row['website']}\nOne-liner: {row['one_liner']}\n"
        f"Description: {description}\n"
        "Give is_b2b, b2b_confidence (0.5 to 1) and b2b_reason (at most 20 words)."
    )


def baseline(base_url: str, key: str, rows: list[dict], parallel: int) -> tuple[float, int]:
    """The baseline: a thread pool, one blocking request per row.

    It does not pace itself: on a 429 it sleeps for Retry-After and asks again.
    Returns the wall time and the number of 429 answers it got.
    """
    limited = 0
    lock = threading.Lock()
    client = httpx2.Client(
        base_url=base_url,
        headers={"Authorization": f"Bearer {key}"},
        limits=httpx2.Limits(max_connections=parallel),
        timeout=120,
    )

    def one(row: dict) -> None:
        body = {
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": prompt(row)}],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "x", "strict": True, "schema": SCHEMA},
            },
        }
        nonlocal limited
        for _ in range(10):
            response = client.post("/chat/completions", json=body)
            if response.status_code != 429:
                return
            with lock:
                limited += 1
            time.sleep(float(response.headers.get("Retry-After", "1")))

    started = time.perf_counter()
    with ThreadPoolExecutor(parallel) as pool:
        list(pool.map(one, rows))
    return time.perf_counter() - started, limited


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--workflow",
        choices=("b2b_only", "bench_llm"),
        default="b2b_only",
        help="the built-in b2b_only with every row to the LLM, or a one-node llm workflow",
    )
    parser.add_argument("--rows", type=int, default=148)
    parser.add_argument("--parallel", type=int, default=5)
    parser.add_argument("--latency", type=float, default=2.0, help="seconds per provider call")
    parser.add_argument("--server-rps", type=float, help="provider limit; 429 beyond it")
    parser.add_argument("--client-rps", type=float, help="our configured pace for the provider")
    parser.add_argument("--failure-rate", type=float, default=0.0)
    parser.add_argument("--max-shards", type=int, default=None)
    parser.add_argument("--shard-size", type=int, default=None)
    parser.add_argument("--rerun", action="store_true", help="also time a re-run (0 calls)")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument(
        "--yes", action="store_true", help="pass --yes: a run the stand-in prices above $1 asks"
    )
    parser.add_argument("--timeline", action="store_true", help="print when each Dagster step ran")
    args = parser.parse_args()

    box: multiprocessing.Queue = multiprocessing.Queue()
    server = multiprocessing.Process(
        target=serve, args=(box, args.latency, args.server_rps, args.failure_rate), daemon=True
    )
    server.start()
    base_url, key = box.get(timeout=30)

    work = Path(tempfile.mkdtemp(prefix="lead-pipeline-bench-"))
    (work / "workflows").mkdir()
    (work / "workflows" / "bench_llm.yaml").write_text(BENCH_LLM)
    rows = lead_rows(args.rows)
    lead_file = work / "bench.jsonl"
    lead_file.write_text("\n".join(json.dumps(r) for r in rows))
    env = {
        **os.environ,
        "LEAD_PIPELINE_DATA_DIR": str(work / "data"),
        "DAGSTER_HOME": str(work / "data" / "dagster_home"),
        "LEAD_PIPELINE_WORKFLOWS": str(work / "workflows"),
        "OPENAI_BASE_URL": base_url,
        "OPENAI_API_KEY": key,
    }
    env.pop("LEAD_PIPELINE_DB_URL", None)
    if args.client_rps:
        limits = {"openai": {"requests_per_second": args.client_rps}}
        env["LEAD_PIPELINE_RATE_LIMITS"] = json.dumps(limits)
    run_cli(["import", str(lead_file), "--lead", "bench", "--id-column", "bench_id"], env)
    home = work / "data" / "dagster_home"
    log_before = folder_size(home)
    calls_before = stats(base_url)

    enrich = ["enrich", "--lead", "bench", "--workflow", args.workflow]
    enrich += ["--parallel", str(args.parallel)]
    if args.workflow == "b2b_only":
        enrich += ["--param", "llm_threshold=1.0"]  # every row the model answers, to the LLM
    if args.max_shards:
        enrich += ["--max-shards", str(args.max_shards)]
    if args.shard_size:
        enrich += ["--shard-size", str(args.shard_size)]
    if args.yes:
        enrich.append("--yes")
    print(f"command: lead-pipeline {' '.join(enrich)}")
    if args.yes:
        print("  (--yes: at a terminal the command would ask before this run; a user types y)")
    if args.workflow != "b2b_only":
        print("  (not a built-in workflow: the engine's own line, without the offline model)")
    started_epoch = time.time()
    load_at_start = os.getloadavg()[0]
    wall, cpu, peak, out = run_cli(enrich, env)
    after = stats(base_url)
    calls = after["requests"] - calls_before["requests"]
    limited = after["limited"] - calls_before["limited"]
    # The ideal counts the rows that reached the provider: b2b_only skips rows with
    # neither a description nor a one-liner before any call.
    asked = calls - limited
    ideal = math.ceil(asked / args.parallel) * args.latency
    if args.server_rps:
        ideal = max(ideal, asked / args.server_rps)

    print(
        f"rows={args.rows} parallel={args.parallel} latency={args.latency}s "
        f"server_rps={args.server_rps} client_rps={args.client_rps} cores={os.cpu_count()} "
        f"load at start {load_at_start:.1f}, now {os.getloadavg()[0]:.1f}"
    )
    print(f"rows asked of the LLM {asked} of {args.rows}")
    print(out.strip().splitlines()[-1])
    print(f"pipeline wall       {wall:8.1f} s")
    print(f"ideal               {ideal:8.1f} s")
    print(f"ratio               {wall / ideal:8.3f} x")
    print(f"cpu per row         {1000 * cpu / args.rows:8.2f} ms (whole tree, Dagster included)")
    print(f"peak rss            {peak / 2**20:8.0f} MiB (whole tree)")
    print(f"event log growth    {(folder_size(home) - log_before) / 2**20:8.2f} MiB")
    print(f"provider calls      {calls:8d}")
    print(f"429 answers         {limited:8d} ({100 * limited / max(calls, 1):.2f}%)")
    if args.server_rps:
        # Sustained: answered calls over the window in which the provider was busy;
        # overall: over the whole wall time, Dagster's start-up included.
        window = max(after["last"] - after["first"], 1e-9)
        sustained, overall = (calls - limited) / window, (calls - limited) / wall
        print(
            f"sustained rate      {sustained:8.2f} req/s ({100 * sustained / args.server_rps:.1f}% "
            f"of the limit, over the {window:.1f} s the provider was in use)"
        )
        print(
            f"overall rate        {overall:8.2f} req/s ({100 * overall / args.server_rps:.1f}% "
            "of the limit, start-up included)"
        )
    if args.timeline:
        print("timeline (seconds from the command's start):")
        print(f"  {after['first'] - started_epoch:7.2f} s  first provider answer")
        print(f"  {after['last'] - started_epoch:7.2f} s  last provider answer")
        print("\n".join(timeline(home, env, started_epoch)))
        print(f"  {wall:7.2f} s  command exited")
        served = psutil.Process(server.pid).cpu_times()
        print(
            f"cpu: the command {COMMAND_CPU['command']:.1f} s, its other processes "
            f"{COMMAND_CPU['other processes']:.1f} s, the stand-in provider "
            f"{served.user + served.system:.1f} s (on {os.cpu_count()} cores, {wall:.1f} s)"
        )
    if args.rerun:
        before = stats(base_url)["requests"]
        rerun_wall, _, _, _ = run_cli(enrich, env)
        print(
            f"re-run wall         {rerun_wall:8.1f} s, "
            f"{stats(base_url)['requests'] - before} provider calls"
        )
    if not args.no_baseline:
        # The same calls: b2b_only asks nothing of a row with neither text.
        asking = [
            r
            for r in rows
            if args.workflow == "bench_llm" or r.get("long_description") or r.get("one_liner")
        ]
        base_wall, base_limited = baseline(base_url, key, asking, args.parallel)
        print(
            f"thread pool wall    {base_wall:8.1f} s (ratio {base_wall / ideal:.3f} x, "
            f"{len(asking)} calls, {base_limited} answers 429, "
            f"load {os.getloadavg()[0]:.1f})"
        )
    server.terminate()


if __name__ == "__main__":
    main()
