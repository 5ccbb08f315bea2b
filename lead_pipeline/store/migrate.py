"""Schema upgrades in place, so a new release never asks users to rebuild their data."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# An arbitrary constant naming "lead-pipeline schema upgrade" among advisory locks.
_LOCK_KEY = 0x1EAD_5CE3A


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to ``revision``; a no-op when it is already there."""
    if revision == "head" and current_revision(engine) == head_revision():
        return
    config = _config()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Every step process of the first run after a release opens the store at
            # once; without this lock they all create the same tables and all but
            # one fail. The lock ends with the transaction; whoever waited then
            # finds the database already upgraded. (SQLite's BEGIN IMMEDIATE
            # already serialises the upgrades.)
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
