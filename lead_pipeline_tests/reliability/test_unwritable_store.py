"""A lead store that stops accepting writes mid-run: the run ends, naming the file, and pays
for no more rows; once the file is writable again the next run starts at once."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from lead_pipeline.store import LeadStore
from lead_pipeline_tests.reliability.harness import (
    LEAD,
    WORKFLOW,
    WORKFLOW_YAML,
    Enrich,
    RowApi,
    cli_env,
    enrich_args,
    lead_rows,
    trusted,
    write_workflow,
)
from lead_pipeline_tests.servers import RecordedRequest, Reply

pytestmark = pytest.mark.slow


def _chattr(flag: str, files: list[Path]) -> bool:
    if shutil.which("chattr") is None:
        return False
    done = subprocess.run(["chattr", flag, *map(str, files)], capture_output=True)
    return done.returncode == 0


class FreezingApi(RowApi):
    """Makes the store's files immutable (as a full or read-only disk would) at the 5th call."""

    def __init__(self, files: list[Path]) -> None:
        super().__init__()
        self.files = files
        self.frozen = False

    def handle(self, request: RecordedRequest) -> Reply:
        with self._count_lock:
            if not self.frozen and sum(self.calls.values()) >= 4:
                self.frozen = _chattr("+i", [f for f in self.files if f.exists()])
        return super().handle(request)


def test_a_store_that_cannot_be_written_ends_the_run_naming_the_file(tmp_path: Path) -> None:
    store = LeadStore()
    store.import_rows(LEAD, lead_rows(60))
    database = Path(store.engine.url.database or "")
    # Not the -shm file: SQLite maps it into memory, and a frozen mapping is a SIGBUS, not
    # a disk that refuses writes.
    files = [database, Path(f"{database}-wal")]
    if not _chattr("+i", [database]) or not _chattr("-i", [database]):
        pytest.skip("chattr +i is not available here (needs root on a supporting filesystem)")
    try:
        with FreezingApi(files) as api:
            env = cli_env(
                write_workflow(tmp_path / "wf", WORKFLOW_YAML.format(base=api.root_url)),
                **trusted(api),
            )
            done = Enrich(
                env, tmp_path / "first", *enrich_args("--max-shards", "1", parallel=2)
            ).wait()
            assert api.frozen, "the store was never made read-only"
            calls = sum(api.calls.values())
    finally:
        _chattr("-i", [f for f in files if f.exists()])
    assert done.code != 0
    assert f"cannot write the lead store (file {database})" in done.output, done.output
    assert "Traceback" not in done.output
    # The rows in flight when writes began to fail were paid for; no row after them.
    assert calls <= 4 + 2 * 2, calls

    # Writable again: the re-run starts at once (the dead run's command is gone).
    with RowApi() as api:
        env = cli_env(
            write_workflow(tmp_path / "wf2", WORKFLOW_YAML.format(base=api.root_url)),
            **trusted(api),
        )
        again = Enrich(env, tmp_path / "second", *enrich_args()).wait()
    assert again.code == 0, again.output
    assert LeadStore().run_lock(LEAD, WORKFLOW) is None
