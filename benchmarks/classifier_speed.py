"""Rows per second of the offline B2B classifier on one core, over the public YC data.

    .venv/bin/python benchmarks/classifier_speed.py [--data ../shared/data/yc] [--repeat 5]

The process is pinned to a single CPU (where the OS allows it) so the figure is
per core; the best of several passes is reported to damp scheduler noise.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from lead_pipeline.classify import classify_many, load_model

FIELDS = ("name", "website", "one_liner", "long_description")
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "yc"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        cores = "1 core (pinned)"
    else:
        cores = "1 process (not pinned: no sched_setaffinity here)"

    rows = [
        {k: company.get(k) for k in FIELDS}
        for path in sorted(args.data.glob("*.json"))
        for company in json.loads(path.read_text(encoding="utf-8"))
    ]
    if not rows:
        raise SystemExit(f"{args.data}: no <batch>.json files found")

    start = time.perf_counter()
    model = load_model()
    load_seconds = time.perf_counter() - start

    best = float("inf")
    for _ in range(max(1, args.repeat)):
        start = time.perf_counter()
        predictions = classify_many(rows, model)
        best = min(best, time.perf_counter() - start)
    assert len(predictions) == len(rows)

    chars = sum(len(str(row.get(k) or "")) for row in rows for k in FIELDS) / len(rows)
    print(f"rows: {len(rows)} (mean {chars:.0f} characters of text per row), {cores}")
    print(f"model load: {load_seconds * 1000:.0f} ms ({len(model.coef)} features)")
    print(f"classify_many: best of {args.repeat}: {best:.3f} s = {len(rows) / best:,.0f} rows/s")


if __name__ == "__main__":
    main()
