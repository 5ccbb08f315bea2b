#!/usr/bin/env bash
# Wait (at most two minutes) for the cluster demo's `services` (PostgreSQL, with its two
# databases made, and Redis) or for its two Celery `workers` to answer.
set -euo pipefail
exec "$PYTHON" - "$1" <<'PY'
import os
import sys
import time

what = sys.argv[1]


def up() -> bool:
    if what == "services":
        import redis
        import sqlalchemy

        redis.Redis(port=int(os.environ["REDIS_PORT"])).ping()
        admin = sqlalchemy.create_engine(os.environ["PG_ADMIN_URL"], isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            have = {row[0] for row in conn.exec_driver_sql("SELECT datname FROM pg_database")}
            for name in sorted({"leads", "dagster"} - have):
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        admin.dispose()
        # Dagster's tables, made once: workers starting together on an empty database
        # would race to create them (the second fails). Serialized by an advisory lock.
        dagster_db = sqlalchemy.create_engine(os.environ["LEAD_PIPELINE_DB_URL"])
        with dagster_db.connect() as conn:
            conn.exec_driver_sql("SELECT pg_advisory_lock(7413)")
            try:
                import dagster

                os.environ["DAGSTER_HOME"] = os.path.join(os.environ["DEMO_DIR"], "client")
                dagster.DagsterInstance.get().dispose()
            finally:
                conn.exec_driver_sql("SELECT pg_advisory_unlock(7413)")
        dagster_db.dispose()
        return True
    from celery import Celery

    app = Celery(broker=os.environ["LEAD_PIPELINE_CELERY_BROKER"])
    return len(app.control.ping(timeout=1.0)) >= 2


deadline = time.monotonic() + 120
while True:
    try:
        if up():
            break
        problem = "not all answer yet"
    except Exception as exc:  # not up yet
        problem = str(exc)
    if time.monotonic() > deadline:
        sys.exit(f"error: the cluster demo's {what} did not come up: {problem}")
    time.sleep(0.5)
print(f"cluster demo: {what} up")
PY
