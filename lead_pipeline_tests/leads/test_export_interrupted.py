"""An interrupted export leaves the old file as it was and no temporary file behind.

The interruption lands mid-write, deterministically: the export runs in a child
process whose file-size limit (``RLIMIT_FSIZE``) is below the export's size, so
one of its writes is where the kernel raises SIGXFSZ. What that signal does is
the interruption under test: kill the process outright (SIGKILL, as the
out-of-memory killer does), raise Ctrl-C's KeyboardInterrupt (SIGINT), or, ignored,
make the write fail with EFBIG (as a full disk does).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from lead_pipeline.leads import export_lead_list, import_file
from lead_pipeline.leads.atomic import sweep
from lead_pipeline.store import LeadStore

LIMIT = 200_000  # bytes a write may reach in the child: a fifth of the export

CHILD = """
import os, resource, signal, sys
how, *argv = sys.argv[1:]
# Ctrl-C's handler even when pytest runs as a background job (SIGINT inherited ignored),
# as lead_pipeline.cli.entry restores it.
signal.signal(signal.SIGINT, signal.default_int_handler)
if how == "SIGKILL":
    signal.signal(signal.SIGXFSZ, lambda *_: os.kill(os.getpid(), signal.SIGKILL))
elif how == "SIGINT":
    signal.signal(signal.SIGXFSZ, lambda *_: os.kill(os.getpid(), signal.SIGINT))
else:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, resource.RLIM_INFINITY))
from lead_pipeline.cli import main
sys.exit(main(argv))
"""


def _seed(store: LeadStore, tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    lines = ["name,website,description"] + [
        f"Company {i},c{i}.example,{os.urandom(100).hex()}"  # text Parquet cannot shrink
        for i in range(5_000)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    import_file(store, path, "big")


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
@pytest.mark.parametrize(
    ("how", "code"), [("SIGKILL", -signal.SIGKILL), ("SIGINT", 130), ("write-error", 2)]
)
def test_an_interrupted_export_leaves_the_old_file_and_no_temporary_file(
    tmp_path: Path, fmt: str, how: str, code: int
) -> None:
    store = LeadStore(f"sqlite:///{tmp_path / 'lp-data' / 'lead_pipeline.db'}")
    try:
        _seed(store, tmp_path)
        whole = export_lead_list(store, "big", fmt, tmp_path / f"whole.{fmt}").path
        assert whole.stat().st_size > 5 * LIMIT  # the limit falls well inside the write
    finally:
        store.dispose()
    out = tmp_path / "out"
    out.mkdir()
    target = out / f"big.{fmt}"
    target.write_bytes(b"the previous export")
    argv = ["export", "--lead", "big", "--format", fmt, "--out", str(target)]
    done = subprocess.run(
        [sys.executable, "-c", CHILD.format(limit=LIMIT), how, *argv],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    )
    assert done.returncode == code, done.stderr
    if how == "write-error":
        assert done.stderr.startswith(f"error: cannot write {out}") and "File too large" in (
            done.stderr
        ), done.stderr
        assert done.stderr.count("\n") == 1
    assert sorted(p.name for p in out.iterdir()) == [target.name]
    assert target.read_bytes() == b"the previous export"


def test_a_temporary_file_of_a_dead_writer_is_swept_by_the_next_export(
    store: LeadStore, tmp_path: Path
) -> None:
    # Where the unnamed file is not available, a killed writer leaves its hidden
    # ``.<target>.<pid>.<hex>.tmp``; the next export to that target removes it, and
    # keeps those of writers still running.
    _seed(store, tmp_path)
    target = tmp_path / "out" / "big.csv"
    target.parent.mkdir()
    dead = subprocess.Popen(["true"])
    dead.wait()
    left = target.with_name(f".big.csv.{dead.pid}.0123abcd.tmp")
    running = target.with_name(f".big.csv.{os.getpid()}.0123abcd.tmp")
    other = target.with_name(f".other.csv.{dead.pid}.0123abcd.tmp")
    for path in (left, running, other):
        path.write_text("half a file")
    export_lead_list(store, "big", "csv", target)
    names = sorted(p.name for p in target.parent.iterdir())
    assert names == sorted([target.name, running.name, other.name])
    assert sweep(target) == []
