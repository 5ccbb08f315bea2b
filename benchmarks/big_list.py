"""The engine's own cost on a big list: an ``expression`` workflow, no provider, N rows.

    .venv/bin/python benchmarks/big_list.py --rows 100000
    .venv/bin/python benchmarks/big_list.py --rows 100000 \\
        --db-url postgresql+psycopg://USER@HOST:PORT/postgres

Every step is the real command a user types, in a subprocess, timed as a user
waits for it: ``lead-pipeline import``, ``enrich`` (the first run), ``status``,
``export --format csv``, and ``enrich`` again with nothing to do. ``enrich`` is the
plain command (no ``--yes``), on a workflow as a user writes it (``domain(website)``,
``len(name)``) over rows with 300-character descriptions. With no network in the
way, what is left is the engine, the store and Dagster.

With ``--db-url`` (an admin URL of a PostgreSQL server) the lead store and
Dagster's storage each get a fresh database on that server (dropped
afterwards); without it both are SQLite files under a temp dir.

Figures: wall time of each command, rows/s of the first run, CPU seconds per
row and peak RSS of the ``enrich`` process tree (the CLI, Dagster's executor,
the step processes), and the growth of Dagster's storage (its event log) over
the first run. ``--profile`` runs the two ``enrich`` commands under py-spy
(``pip install py-spy``; not a dependency of the package) across the whole
process tree, step processes included, and prints where the samples fall
(timings under the profiler are slower; its CPU and RSS are counted in).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline import ROOT, folder_size, run_cli, timeline
from sqlalchemy import create_engine, text

# An expression workflow as a user writes it (the README's ``domain(website)``), run with
# the plain command: no ``--yes``, so the command decides whether a plan is needed.
WORKFLOW = """\
name: bench_expr
description: computed columns, for the big-list benchmark
nodes:
  - id: measure
    type: expression
    values:
      domain: "domain(website)"
      name_length: "len(name)"
    outputs: {domain: string, name_length: integer}
"""
DESCRIPTION = (
    "sells workflow software to finance and operations teams at mid-sized companies, "
    "with integrations for the common accounting and payroll systems, an API for custom "
    "reports, and a support team that answers within the hour; customers include "
    "manufacturers, retailers and agencies."
)


def lead_rows(count: int) -> Iterator[dict[str, str]]:
    """Synthetic rows shaped like a lead list: a name, a website, a one-liner and a
    300-character description (what users' lists carry, and what a plan would read)."""
    for i in range(count):
        yield {
            "bench_id": f"r{i:07d}",
            "name": f"Company {i}",
            "website": f"https://www.company{i}.example.com/about",
            "one_liner": f"Company {i} sells software to other companies, number {i % 97}.",
            "description": f"Company {i} {DESCRIPTION}"[:300],
        }


@contextmanager
def databases(admin_url: str | None, work: Path) -> Iterator[tuple[str, str | None]]:
    """(lead store URL, Dagster storage URL or None for SQLite under DAGSTER_HOME)."""
    if admin_url is None:
        yield f"sqlite:///{work / 'data' / 'leads.db'}", None
        return
    from lead_pipeline_tests.conftest import fresh_pg_database

    with fresh_pg_database(admin_url) as leads_url, fresh_pg_database(admin_url) as dagster_url:
        yield leads_url, dagster_url


def storage_size(home: Path, dagster_url: str | None) -> int:
    """Bytes Dagster's storage takes: its home folder, or its PostgreSQL database."""
    if dagster_url is None:
        return folder_size(home)
    engine = create_engine(dagster_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar())
    finally:
        engine.dispose()


def profiler(out: Path, name: str) -> list[str]:
    """py-spy over the whole process tree (the CLI, Dagster's executor, the step
    processes), writing collapsed stacks to ``out/name.txt``."""
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"
    target = str(out / f"{name}.txt")
    return [spy, "record", "--subprocesses", "--format", "raw", "-r", "50", "-o", target, "--"]


PROCESSES = re.compile(r'(?:process (\d+):"(.*?)"(?:;|$))+')
STEP = re.compile(r"build_workflow_(?:asset|checks)\.<locals>\.(\w+)")


def summarize_profile(path: Path, top: int = 20) -> None:
    """Where the samples fall: by process, by step (the op function on the stack),
    and by function (inclusive, this project's; own time, any)."""
    per_process: Counter[str] = Counter()
    per_step: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        chain = PROCESSES.match(stack)
        if not count.isdigit() or chain is None:
            continue
        samples = int(count)
        total += samples
        # Nested processes come first, outermost first: the last one ran this stack.
        pid, command = chain.group(1), chain.group(2)
        per_process[f"{pid}: {command.split(' -c ')[0].split('/')[-1][:60]}"] += samples
        step = STEP.search(stack)
        per_step[step.group(1) if step else "(outside the steps' op code)"] += samples
        names = [_frame(f) for f in stack[chain.end() :].split(";")]
        for frame in set(names):
            inclusive[frame] += samples
        own[names[-1]] += samples
    print(f"profile {path.name}: {total} samples at 50/s ({total / 50:.1f} s busy, all processes)")
    sections = (
        ("by process", per_process.most_common(8)),
        ("by step (op function on the stack)", per_step.most_common()),
        (
            "inclusive, project functions",
            [(f, n) for f, n in inclusive.most_common() if "lead_pipeline/" in f][:top],
        ),
        ("own time (leaf frames)", own.most_common(top)),
    )
    for title, rows in sections:
        print(f"  {title}:")
        for label, samples in rows:
            print(f"  {100 * samples / total:5.1f}%  {label}")


def _frame(frame: str) -> str:
    """``run_shard (lead_pipeline/engine/runner.py:262)`` without the line number."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rpartition(":")[0]
    if "site-packages/" in where:
        where = where.split("site-packages/", 1)[1]
    elif "/lead_pipeline/" in where:
        where = "lead_pipeline/" + where.split("/lead_pipeline/", 1)[1]
    return f"{name} ({where})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--parallel", type=int, default=None, help="rows in flight")
    parser.add_argument("--max-shards", type=int, default=None)
    parser.add_argument("--shard-size", type=int, default=None)
    parser.add_argument("--db-url", help="admin URL of a PostgreSQL server (default: SQLite)")
    parser.add_argument("--profile", action="store_true", help="pyinstrument the enrich runs")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    parser.add_argument(
        "--timeline", action="store_true", help="print when each step of the first run ran"
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="lead-pipeline-big-"))
    (work / "workflows").mkdir()
    (work / "workflows" / "bench_expr.yaml").write_text(WORKFLOW)
    lead_file = work / "big.jsonl"
    with lead_file.open("w") as out:
        for row in lead_rows(args.rows):
            out.write(json.dumps(row) + "\n")
    home = work / "data" / "dagster_home"
    try:
        with databases(args.db_url, work) as (leads_url, dagster_url):
            env = {
                **os.environ,
                "LEAD_PIPELINE_DATA_DIR": str(work / "data"),
                "DAGSTER_HOME": str(home),
                "LEAD_PIPELINE_WORKFLOWS": str(work / "workflows"),
                "LEAD_PIPELINE_DB_URL": leads_url,
                "PYTHONPATH": os.pathsep.join(
                    p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p
                ),
            }
            if dagster_url is not None:
                home.mkdir(parents=True)
                shutil.copy(ROOT / "deploy" / "dagster-postgres.yaml", home / "dagster.yaml")
                env["DAGSTER_PG_URL"] = dagster_url.replace(
                    "postgresql+psycopg://", "postgresql+psycopg2://"
                )
            measure(args, env, lead_file, work, home, dagster_url)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def measure(
    args: argparse.Namespace,
    env: dict[str, str],
    lead_file: Path,
    work: Path,
    home: Path,
    dagster_url: str | None,
) -> None:
    rows = args.rows
    backend = "postgresql" if dagster_url else "sqlite"
    print(f"rows={rows} backend={backend} cores={os.cpu_count()} load={os.getloadavg()[0]:.1f}")
    imported = run_cli(["import", str(lead_file), "--lead", "big", "--id-column", "bench_id"], env)
    print(f"import              {imported[0]:8.1f} s")

    enrich = ["enrich", "--lead", "big", "--workflow", "bench_expr"]
    for flag, value in (
        ("--parallel", args.parallel),
        ("--max-shards", args.max_shards),
        ("--shard-size", args.shard_size),
    ):
        if value is not None:
            enrich += [flag, str(value)]
    print(f"command: lead-pipeline {' '.join(enrich)}")
    log_before = storage_size(home, dagster_url)
    started = time.time()
    wall, cpu, peak, out = run_cli(enrich, env, profiler(work, "enrich") if args.profile else None)
    growth = storage_size(home, dagster_url) - log_before
    print(f"  {out.strip().splitlines()[-1]}")
    print(f"enrich (first run)  {wall:8.1f} s  {rows / wall:8.0f} rows/s")
    print(f"  cpu per row       {1000 * cpu / rows:8.2f} ms (whole tree, Dagster included)")
    print(f"  peak rss          {peak / 2**20:8.0f} MiB (whole tree)")
    print(f"  event log growth  {growth / 2**20:8.2f} MiB")
    if args.timeline:
        print("  timeline (seconds from the command's start):")
        print("\n".join(timeline(home, env, started)))
        print(f"    {wall:7.2f} s  command exited")

    status = run_cli(["status", "--lead", "big"], env)
    print(f"status              {status[0]:8.1f} s")
    csv = work / "big.csv"
    exported = run_cli(["export", "--lead", "big", "--format", "csv", "--out", str(csv)], env)
    print(f"export csv          {exported[0]:8.1f} s  peak rss {exported[2] / 2**20:.0f} MiB")

    rerun = run_cli(enrich, env, profiler(work, "rerun") if args.profile else None)
    print(f"  {rerun[3].strip().splitlines()[-1]}")
    print(
        f"re-run, nothing to do {rerun[0]:6.1f} s  {rerun[1]:.2f} CPU-s  "
        f"peak rss {rerun[2] / 2**20:.0f} MiB"
    )
    if args.profile:
        summarize_profile(work / "enrich.txt")
        summarize_profile(work / "rerun.txt")


if __name__ == "__main__":
    main()
