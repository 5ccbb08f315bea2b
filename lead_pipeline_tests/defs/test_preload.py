"""The step server imports what each step's Dagster instance would import, from the home
the run uses, and a home it cannot read never stops it from starting."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from lead_pipeline.defs import preload
from lead_pipeline.defs.partitions import DEFAULT_INSTANCE_YAML

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, yaml: str | None) -> Path:
    home = tmp_path / "dagster_home"
    if yaml is not None:
        home.mkdir()
        (home / "dagster.yaml").write_text(yaml)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def test_the_embedded_instance_s_storage_and_queue_are_preloaded(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _home(monkeypatch, tmp_path, DEFAULT_INSTANCE_YAML)
    modules = preload.instance_modules()
    assert "dagster._core.instance.factory" in modules
    assert "dagster._core.storage.sqlite_storage" in modules  # the default storage
    assert "dagster._core.run_coordinator" in modules  # the QueuedRunCoordinator it names
    preload._preload_instance_modules()
    assert all(module in sys.modules for module in modules)


def test_a_postgres_instance_names_its_own_storage(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DAGSTER_PG_URL", "postgresql+psycopg2://dagster:pw@db.internal/dagster")
    _home(monkeypatch, tmp_path, (DEPLOY / "dagster-postgres.yaml").read_text())
    modules = preload.instance_modules()
    assert "dagster_postgres" in modules
    assert "dagster._core.storage.sqlite_storage" not in modules


def test_a_home_not_created_yet_preloads_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    home = _home(monkeypatch, tmp_path, None)
    assert preload.instance_modules() == []
    preload._preload_instance_modules()
    assert not home.exists()  # looking never creates the home: the command does


@pytest.mark.parametrize(
    "yaml",
    [
        "storage: [unclosed\n",  # not YAML
        "storage:\n  nosuchdb: {}\n",  # a storage Dagster does not know
        "run_coordinator:\n  module: no_such_module_xyz\n  class: Nope\n",  # not installed
    ],
)
def test_a_home_dagster_cannot_read_does_not_stop_the_step_server(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, yaml: str
) -> None:
    _home(monkeypatch, tmp_path, yaml)
    preload._preload_instance_modules()  # returns: the command reports the home itself
    assert "no_such_module_xyz" not in sys.modules
