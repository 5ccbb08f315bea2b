#!/usr/bin/env bash
# The demo chain (as `make demo`), its steps on the two Celery workers.
set -euo pipefail
export DAGSTER_HOME="$DEMO_DIR/client"
cli=("$PYTHON" -m lead_pipeline.cli)
"${cli[@]}" import data/leads/yc-f25.json --lead yc-f25
"${cli[@]}" enrich --lead yc-f25 --workflow all --max-shards 4 --shard-size 40 --parallel 8
"${cli[@]}" status --lead yc-f25
"${cli[@]}" export --lead yc-f25 --format csv
