"""One provider rate limit across shards on two Celery workers: how much of it a run uses.

    LEAD_PIPELINE_TEST_PG_URL=postgresql+psycopg://USER@HOST:PORT/postgres \\
        .venv/bin/python benchmarks/shared_rate_limit.py --rows 300 --server-rps 5 --client-rps 4.8

What runs: the cluster of ``lead_pipeline_tests/scaleout`` (PostgreSQL databases
for both stores made on the server at ``LEAD_PIPELINE_TEST_PG_URL``, a Redis of
its own, two Celery workers with two pool processes each); an OpenAI stand-in
that answers 429 with ``Retry-After: 1`` beyond ``--server-rps`` requests in any
second; a one-node ``llm`` workflow over R rows in four shards, so four shards on
two workers share the provider's one pace (``LEAD_PIPELINE_RATE_LIMITS`` at
``--client-rps``). Figures: the rate the provider accepted requests at, from the
first to the last, as a share of its limit, and the share answered 429.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.pipeline import BENCH_LLM, lead_rows  # noqa: E402
from lead_pipeline_tests.conftest import PG_URL_ENV, fresh_pg_database  # noqa: E402
from lead_pipeline_tests.scaleout.cluster import Cluster, redis_server  # noqa: E402
from lead_pipeline_tests.servers import OpenAIServer  # noqa: E402


class CountingServer(OpenAIServer):
    """The stand-in, noting when it accepted a request and how many it refused."""

    def __init__(self, **knobs: object) -> None:
        super().__init__(**knobs)
        self.accepted_at: list[float] = []
        self.refused = 0

    def _over_rate(self, now: float) -> bool:  # called under the server's lock
        over = super()._over_rate(now)
        if over:
            self.refused += 1
        else:
            self.accepted_at.append(now)
        return over


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument("--server-rps", type=float, default=5.0, help="provider limit")
    parser.add_argument("--client-rps", type=float, default=4.8, help="our configured pace")
    parser.add_argument("--latency", type=float, default=0.3, help="seconds per call")
    args = parser.parse_args()
    admin = os.environ.get(PG_URL_ENV, "").strip()
    if not admin:
        sys.exit(f"set {PG_URL_ENV} to an admin URL of a PostgreSQL server")

    with (
        tempfile.TemporaryDirectory(prefix="lp-rate-bench-") as tmp,
        fresh_pg_database(admin) as leads_url,
        fresh_pg_database(admin) as dagster_url,
        redis_server(Path(tmp) / "redis") as redis,
        CountingServer(latency=args.latency, rate_limit=args.server_rps) as llm,
    ):
        root = Path(tmp)
        (root / "workflows").mkdir()
        (root / "workflows" / "bench_llm.yaml").write_text(BENCH_LLM)
        leads = root / "leads.json"
        leads.write_text(json.dumps(lead_rows(args.rows)))
        cluster = Cluster.on(
            root,
            leads_url,
            dagster_url,
            redis,
            extra_env={
                **llm.env(),
                "LEAD_PIPELINE_WORKFLOWS": str(root / "workflows"),
                "LEAD_PIPELINE_RATE_LIMITS": json.dumps(
                    {"openai": {"requests_per_second": args.client_rps}}
                ),
                "LEAD_PIPELINE_RETRY": json.dumps({"max_attempts": 6}),
            },
        )
        try:
            env = cluster.client_env()
            cli = [sys.executable, "-m", "lead_pipeline.cli"]
            subprocess.run(
                [*cli, "import", str(leads), "--lead", "bench", "--id-column", "bench_id"],
                env=env,
                check=True,
                capture_output=True,
            )
            # After the import, which makes Dagster's tables (workers would race to).
            cluster.start_worker("w1", concurrency=2)
            cluster.start_worker("w2", concurrency=2)
            cluster.wait_ready()
            started = time.perf_counter()
            done = subprocess.run(
                [
                    *cli,
                    "enrich",
                    "--lead",
                    "bench",
                    "--workflow",
                    "bench_llm",
                    "--parallel",
                    "16",
                    "--max-shards",
                    "4",
                    "--shard-size",
                    str(-(-args.rows // 4)),
                ],
                env=env,
                capture_output=True,
                text=True,
            )
            wall = time.perf_counter() - started
        finally:
            cluster.stop()
        if done.returncode != 0:
            sys.exit(done.stdout + done.stderr + cluster.logs())
        accepted = sorted(llm.accepted_at)
        span = accepted[-1] - accepted[0]
        rate = (len(accepted) - 1) / span if span > 0 else float("nan")
        total = len(accepted) + llm.refused
        print(
            f"rows {args.rows}, 4 shards on 2 workers, provider limit {args.server_rps}/s, "
            f"client pace {args.client_rps}/s"
        )
        print(
            f"accepted {len(accepted)} requests in {span:.1f}s: {rate:.2f}/s = "
            f"{rate / args.server_rps:.1%} of the limit"
        )
        print(f"answered 429: {llm.refused} of {total} ({llm.refused / total:.2%})")
        print(f"run wall time {wall:.1f}s")
        print(done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "")


if __name__ == "__main__":
    main()
