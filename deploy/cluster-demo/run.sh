#!/usr/bin/env bash
# Bring up PostgreSQL, Redis and two Celery workers with honcho, run the demo chain on
# them, then stop and delete everything: `make cluster-demo`.
#
# PostgreSQL and Redis live in a temp dir on free ports, on 127.0.0.1 only. As root,
# PostgreSQL runs as a `pgci` user (it refuses root). Needs PostgreSQL 15's server
# binaries ($PG_BIN) and redis-server (apt-get install postgresql-15 redis-server).
set -euo pipefail
cd "$(dirname "$0")/../.."

PYTHON="${PYTHON:-.venv/bin/python}"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
[[ -x "$PG_BIN/initdb" ]] || { echo "error: PostgreSQL 15 server binaries not found in $PG_BIN" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "error: redis-server is missing (apt-get install redis-server)" >&2; exit 1; }

DEMO_DIR="$(mktemp -d /tmp/lead-pipeline-cluster-demo.XXXXXX)"
trap 'rm -rf "$DEMO_DIR"' EXIT
PG_USER="$(id -un)"
as_pg=()
if [[ "$(id -u)" == "0" ]]; then
    PG_USER=pgci
    id -u "$PG_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_USER"
    chown "$PG_USER" "$DEMO_DIR"
    as_pg=(runuser -u "$PG_USER" --)
fi
free_port() { "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PG_PORT="$(free_port)"
REDIS_PORT="$(free_port)"
"${as_pg[@]}" "$PG_BIN/initdb" -D "$DEMO_DIR/pg" -U "$PG_USER" --auth=trust -E UTF8 --locale=C.UTF-8 \
    >"$DEMO_DIR/initdb.log" 2>&1 || { cat "$DEMO_DIR/initdb.log" >&2; exit 1; }

PG="postgresql+psycopg://$PG_USER@127.0.0.1:$PG_PORT"
for home in client w1 w2; do
    mkdir -p "$DEMO_DIR/$home"
    cp deploy/dagster-postgres.yaml "$DEMO_DIR/$home/dagster.yaml"
done
cat >"$DEMO_DIR/.env" <<ENV
PYTHON=$PYTHON
PYTHONPATH=$PWD
PG_BIN=$PG_BIN
PG_USER=$PG_USER
DEMO_DIR=$DEMO_DIR
PG_PORT=$PG_PORT
REDIS_PORT=$REDIS_PORT
PG_ADMIN_URL=$PG/postgres
LEAD_PIPELINE_DB_URL=$PG/leads
DAGSTER_PG_URL=postgresql+psycopg2://$PG_USER@127.0.0.1:$PG_PORT/dagster
LEAD_PIPELINE_DATA_DIR=$DEMO_DIR/data
LEAD_PIPELINE_EXECUTOR=celery
LEAD_PIPELINE_CELERY_BROKER=redis://127.0.0.1:$REDIS_PORT/0
LEAD_PIPELINE_CELERY_BACKEND=redis://127.0.0.1:$REDIS_PORT/1
ENV
echo "cluster demo in $DEMO_DIR: PostgreSQL on 127.0.0.1:$PG_PORT, Redis on 127.0.0.1:$REDIS_PORT"
# honcho's exit status is that of the first process to end: the demo's, when all went well.
"$(dirname "$PYTHON")/honcho" -f deploy/cluster-demo/Procfile -e "$DEMO_DIR/.env" -d . start
