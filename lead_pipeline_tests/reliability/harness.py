"""What the end-to-end reliability tests share: the CLI in its own process group,
a per-row JSON API that can hold requests on cue, and a two-node workflow over it.

Runs go through ``lead-pipeline enrich`` exactly as a user starts them, so a
SIGKILL to the process group takes down the CLI, the forkserver and every
Dagster step process at once, as a crash or an OOM kill would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lead_pipeline.providers.urlguard import TRUSTED_HOSTS_ENV
from lead_pipeline.store import OK, LeadStore
from lead_pipeline_tests.servers import RecordedRequest, Reply, StubServer

LEAD = "crm"
WORKFLOW = "scoring"
NODES = ("first", "second")

WORKFLOW_YAML = """\
name: scoring
description: two paid calls per row, the second one reading the first one's answer
nodes:
  - id: first
    type: http
    method: POST
    url: "{base}/first"
    body: {{row: "{{{{ _id }}}}", name: "{{{{ name }}}}"}}
    extract: {{size: "size"}}
    outputs: {{size: integer}}
  - id: second
    type: http
    method: POST
    url: "{base}/second"
    body: {{row: "{{{{ _id }}}}", size: "{{{{ size }}}}"}}
    extract: {{score: "score"}}
    outputs: {{score: number}}
"""


def lead_rows(count: int) -> list[tuple[str, dict[str, Any]]]:
    return [(f"row{i:03d}", {"name": f"Company {i}" + "x" * (i % 7)}) for i in range(count)]


class RowApi(StubServer):
    """``POST /first`` and ``POST /second``, answering from the row alone, so any run,
    interrupted or not, must end with the same table.

    ``calls`` counts requests per (row, node). After :meth:`hold_after` ``n``,
    request ``n + 1`` and later ones wait (unanswered, in flight) until
    :meth:`release`; ``tripped`` is set when the first one is held.
    """

    def __init__(self, **knobs: Any) -> None:
        super().__init__(**knobs)
        self.calls: Counter[tuple[str, str]] = Counter()
        self.tripped = threading.Event()
        self._gate = threading.Event()
        self._gate.set()
        self._hold_after: int | None = None
        self._seen = 0
        self._count_lock = threading.Lock()

    def hold_after(self, n: int) -> None:
        with self._count_lock:
            self._hold_after, self._seen = n, 0
            self.tripped.clear()
            self._gate.clear()

    def release(self) -> None:
        with self._count_lock:
            self._hold_after = None
        self._gate.set()

    def snapshot(self) -> Counter[tuple[str, str]]:
        with self._count_lock:
            return Counter(self.calls)

    def handle(self, request: RecordedRequest) -> Reply:
        node = request.path.strip("/")
        if node not in NODES:
            return super().handle(request)
        body = request.json
        with self._count_lock:
            self.calls[(body["row"], node)] += 1
            self._seen += 1
            hold = self._hold_after is not None and self._seen > self._hold_after
        if hold:
            self.tripped.set()
            self._gate.wait(timeout=120)
        return self.answer(node, body)

    def answer(self, node: str, body: dict[str, Any]) -> Reply:
        if node == "first":
            return Reply(json={"size": len(body["name"]) * 10})
        return Reply(json={"score": round(int(body["size"]) / 7, 6)})


def write_workflow(folder: Path, text: str, name: str = WORKFLOW) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.yaml").write_text(text)
    return folder


def cli_env(workflows: Path, **extra: str) -> dict[str, str]:
    """The test's environment (its own data folder and Dagster home) plus ``extra``."""
    return {**os.environ, "LEAD_PIPELINE_WORKFLOWS": str(workflows), **extra}


def trusted(*servers: StubServer) -> dict[str, str]:
    """The operator's allow-list naming these stand-ins: ``http`` nodes refuse loopback
    addresses (a stand-in's) unless the operator vouches for the host and port."""
    return {TRUSTED_HOSTS_ENV: ",".join(f"127.0.0.1:{server.port}" for server in servers)}


@dataclass
class Finished:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


class Enrich:
    """``lead-pipeline enrich`` in a new session (its own process group), output to files."""

    def __init__(self, env: dict[str, str], out: Path, *args: str) -> None:
        out.mkdir(parents=True, exist_ok=True)
        self.data = Path(env["LEAD_PIPELINE_DATA_DIR"])
        self._stdout = (out / "stdout.txt").open("w+")
        self._stderr = (out / "stderr.txt").open("w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "lead_pipeline.cli", "enrich", *args],
            env=env,
            stdout=self._stdout,
            stderr=self._stderr,
            start_new_session=True,
        )

    def wait(self, timeout: float = 180) -> Finished:
        """The command's end, however long a run that keeps working takes: it fails (raising
        ``subprocess.TimeoutExpired``) only once ``timeout`` seconds pass in which nothing
        under the data folder changed (no row, no event, no log line: a hang)."""
        mark, quiet_since = data_activity(self.data), time.monotonic()
        while True:
            try:
                return self._finished(self.proc.wait(timeout=0.5))
            except subprocess.TimeoutExpired:
                pass
            if (moved := data_activity(self.data)) != mark:
                mark, quiet_since = moved, time.monotonic()
            elif time.monotonic() - quiet_since >= timeout:
                raise subprocess.TimeoutExpired(self.proc.args, timeout)

    def reaches(self, condition: Any, what: str, quiet: float = 180) -> None:
        """Wait until ``condition()`` holds while the run works (as :meth:`wait` does): fail
        if the command ends first, or after ``quiet`` seconds in which nothing under the
        data folder changed."""
        mark, quiet_since = data_activity(self.data), time.monotonic()
        while not condition():
            assert self.proc.poll() is None, f"the command ended before {what}"
            if (moved := data_activity(self.data)) != mark:
                mark, quiet_since = moved, time.monotonic()
            assert time.monotonic() - quiet_since < quiet, f"no progress towards {what}"
            time.sleep(0.1)

    def kill(self) -> Finished:
        """SIGKILL the whole process group and wait until none of its processes is left."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        code = self.proc.wait(timeout=60)
        deadline = time.monotonic() + 60
        while session_pids(self.proc.pid):
            assert time.monotonic() < deadline, f"processes survived: {session_pids(self.proc.pid)}"
            time.sleep(0.05)
        return self._finished(code)

    def _finished(self, code: int) -> Finished:
        outputs = []
        for handle in (self._stdout, self._stderr):
            handle.flush()
            handle.seek(0)
            outputs.append(handle.read())
            handle.close()
        return Finished(code, *outputs)


def data_activity(folder: Path) -> tuple[int, int]:
    """What changes while a run works: the total size and newest change of the files under
    ``folder`` (the store and its journal, the Dagster home's event log, the step log)."""
    sizes, newest = 0, 0
    for path in folder.rglob("*"):
        try:
            stat = path.stat()
        except OSError:  # gone between listing and reading (a journal, a temporary file)
            continue
        sizes, newest = sizes + stat.st_size, max(newest, stat.st_mtime_ns)
    return sizes, newest


def session_pids(session: int) -> list[int]:
    """Live processes of a session (a process group leader's pid), zombies excluded."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # After the command name: state, ppid, pgrp, session, ...
        fields = stat.rsplit(")", 1)[1].split()
        state, sid = fields[0], int(fields[3])
        if sid == session and state != "Z":
            found.append(int(entry.name))
    return found


def enrich_args(*extra: str, parallel: int = 4) -> list[str]:
    return ["--lead", LEAD, "--workflow", WORKFLOW, "--parallel", str(parallel), *extra]


def ok_nodes(store: LeadStore, lead: str = LEAD) -> set[tuple[str, str]]:
    """(row, node) pairs whose result is ok in the store."""
    return {
        (row_id, node)
        for row_id, found in store.results(lead, [WORKFLOW]).items()
        for (_, node), result in found.items()
        if result.status == OK
    }


def wait_for(condition: Any, what: str, timeout: float = 120) -> None:
    """Poll ``condition`` until it holds; a hang fails with ``what`` instead of blocking."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
