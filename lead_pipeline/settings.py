"""Every environment variable the pipeline reads, in one place.

Reading configuration in one module keeps secrets out of everything else: other
modules receive values, never look them up, so a key cannot leak through a
stray ``os.environ`` dump in a log line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip()


def data_dir() -> Path:
    """The folder for embedded state: the SQLite store, Dagster home, cache, exports."""
    return Path(_env("LEAD_PIPELINE_DATA_DIR") or PROJECT_ROOT / "data").resolve()


def db_url() -> str:
    """SQLAlchemy URL of the lead store; a SQLite file under ``data/`` by default."""
    url = _env("LEAD_PIPELINE_DB_URL")
    if url:
        return url
    return f"sqlite:///{data_dir() / 'lead_pipeline.db'}"


def dagster_home() -> Path:
    """The persistent Dagster instance; ``DAGSTER_HOME`` wins when set."""
    return Path(_env("DAGSTER_HOME") or data_dir() / "dagster_home").resolve()


def workflows_dir() -> Path:
    """Where users keep their own workflow YAML files."""
    return Path(_env("LEAD_PIPELINE_WORKFLOWS") or data_dir() / "workflows").resolve()


def leads_dir() -> Path:
    """The folder the lead-file sensor watches."""
    return Path(_env("LEAD_PIPELINE_LEADS_DIR") or data_dir() / "leads").resolve()


@dataclass(frozen=True)
class Secret:
    """A credential that refuses to print itself.

    ``repr`` and ``str`` both mask the value so that a secret passed around in an
    exception, a log record or Dagster metadata shows as ``***``.
    """

    value: str = field(repr=False)

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def reveal(self) -> str:
        return self.value


def secret(name: str) -> Secret | None:
    value = _env(name)
    return Secret(value) if value else None


def env(name: str, default: str | None = None) -> str | None:
    """A non-secret setting (base URLs, model names, limits)."""
    return _env(name, default)


def known_secrets() -> list[str]:
    """Values of every credential variable set, so log and error text can be scrubbed."""
    names = [n for n in os.environ if n.endswith(("_API_KEY", "_TOKEN", "_SECRET", "_PASSWORD"))]
    return [v for n in names if (v := _env(n)) and len(v) >= 6]
