#!/usr/bin/env bash
# The cluster demo's PostgreSQL in the foreground (as $PG_USER: it refuses to run as root).
set -euo pipefail
run=("$PG_BIN/postgres" -D "$DEMO_DIR/pg" -p "$PG_PORT" -c listen_addresses=127.0.0.1
     -c "unix_socket_directories=$DEMO_DIR" -c fsync=off)
if [[ "$(id -u)" == "0" ]]; then
    exec runuser -u "$PG_USER" -- "${run[@]}"
fi
exec "${run[@]}"
