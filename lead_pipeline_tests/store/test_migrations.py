"""Schema migrations: a new database, and an existing one from an older release."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from lead_pipeline.store import LeadStore, migrate
from lead_pipeline.store.connection import make_engine
from lead_pipeline.store.schema import metadata


def _revisions() -> list[str]:
    """Every revision, oldest first."""
    script = ScriptDirectory.from_config(migrate._config())
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def test_revision_chain_is_linear() -> None:
    revisions = _revisions()
    assert revisions[0] == "0001"
    assert revisions[-1] == migrate.head_revision()
    assert len(revisions) == len(set(revisions))


def test_upgrade_empty_database_matches_the_schema(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        assert migrate.current_revision(engine) is None
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.head_revision()
        migrate.upgrade(engine)  # a second run is a no-op
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diff == [], f"schema.py and the migrations disagree: {diff}"
    finally:
        engine.dispose()


NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _insert_release_one_data(conn) -> None:  # type: ignore[no-untyped-def]
    """Rows written with revision 0001's columns, as that release's code would."""
    conn.execute(
        text(
            "INSERT INTO lead_lists (name, source, created_at, updated_at) "
            "VALUES ('old', 'old.csv', :now, :now)"
        ),
        {"now": NOW},
    )
    for position, (row_id, fields) in enumerate(
        [("a.com", {"name": "A", "tags": ["x"]}), ("b.com", {"name": "B"})]
    ):
        conn.execute(
            text(
                "INSERT INTO leads (lead_list, row_id, position, fields, created_at, updated_at) "
                "VALUES ('old', :row_id, :position, :fields, :now, :now)"
            ),
            {"row_id": row_id, "position": position, "fields": json.dumps(fields), "now": NOW},
        )
    conn.execute(
        text(
            "INSERT INTO node_results (lead_list, row_id, workflow, node, node_index, status, "
            "outputs, error, attempts, started_at, finished_at, duration_s, cost, config_hash, "
            "provider) VALUES ('old', 'a.com', 'b2b', 'rule', 0, 'ok', :outputs, NULL, 2, "
            ":now, :now, 1.5, 0.01, :hash, 'rules')"
        ),
        {"outputs": json.dumps({"is_b2b": True}), "now": NOW, "hash": "h" * 64},
    )
    conn.execute(
        text(
            "INSERT INTO runs (dagster_run_id, lead_list, workflow, params, status, ok, failed, "
            "skipped, cost, started_at, finished_at, message) VALUES ('r1', 'old', 'b2b', "
            ":params, 'success', 1, 0, 0, 0.01, :now, :now, NULL)"
        ),
        {"params": json.dumps({"limit": 1}), "now": NOW},
    )


@pytest.mark.parametrize("start", ["0001", "previous"])
def test_upgrade_keeps_existing_data(db_url: str, start: str) -> None:
    revisions = _revisions()
    revision = revisions[-2] if start == "previous" and len(revisions) > 1 else revisions[0]
    engine = make_engine(db_url)
    try:
        migrate.upgrade(engine, revision)
        assert migrate.current_revision(engine) == revision
        with engine.begin() as conn:
            _insert_release_one_data(conn)
    finally:
        engine.dispose()

    store = LeadStore(db_url)  # opening the store upgrades in place
    try:
        assert migrate.current_revision(store.engine) == migrate.head_revision()
        assert [(r.row_id, r.fields) for r in store.rows("old")] == [
            ("a.com", {"name": "A", "tags": ["x"]}),
            ("b.com", {"name": "B"}),
        ]
        kept = store.results("old")["a.com"][("b2b", "rule")]
        assert (kept.status, kept.outputs, kept.attempts) == ("ok", {"is_b2b": True}, 2)
        assert store.wide_frame("old").to_dict("records")[0]["is_b2b"] is True
        [run] = store.recent_runs("old")
        assert run["params"] == {"limit": 1}
        # What later revisions added works on the upgraded database.
        store.cache_put("key", "llm", {"v": 1})
        assert store.cache_get("key") == {"v": 1}
        tables = set(inspect(store.engine).get_table_names())
        assert {"lead_lists", "leads", "node_results", "runs", "response_cache"} <= tables
    finally:
        store.dispose()
