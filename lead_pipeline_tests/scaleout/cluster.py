"""A Celery cluster on this machine, as a deployment has it: for tests and benchmarks.

PostgreSQL for both stores (databases made per test), a throwaway Redis broker
on a free port, and Celery workers that are separate processes, each with its
own working directory and Dagster home, sharing nothing but the databases and
the broker. Workers start the way docs/deployment.md says, through
``python -m lead_pipeline.defs.celery_worker``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lead_pipeline_tests.conftest import REPO_ROOT

REDIS_SERVER = "redis-server"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _redis_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def redis_server(folder: Path) -> Iterator[str]:
    """A Redis on 127.0.0.1 that keeps nothing on disk; yields its URL prefix."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    process = subprocess.Popen(
        [
            REDIS_SERVER,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
        ],
        stdout=(folder / "redis.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while not _redis_ping(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"redis-server did not start: {(folder / 'redis.log').read_text()}"
                )
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait(10)


@dataclass
class Worker:
    name: str
    folder: Path
    process: subprocess.Popen[bytes]

    @property
    def log(self) -> Path:
        return self.folder / "worker.log"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes at once: a machine lost."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)


@dataclass
class Cluster:
    """Environment of a run and of its workers; ``start_worker`` adds one."""

    root: Path
    leads_url: str
    dagster_url: str  # psycopg2, as Dagster speaks it
    broker: str
    backend: str
    extra_env: dict[str, str] = field(default_factory=dict)
    workers: list[Worker] = field(default_factory=list)

    @classmethod
    def on(cls, root: Path, leads_url: str, dagster_url: str, redis: str, **kw: Any) -> Cluster:
        """A cluster in ``root`` over the two (psycopg) database URLs and a Redis URL."""
        return cls(
            root=root,
            leads_url=leads_url,
            dagster_url=dagster_url.replace("postgresql+psycopg://", "postgresql+psycopg2://"),
            broker=f"{redis}/0",
            backend=f"{redis}/1",
            **kw,
        )

    def env(self, home: Path) -> dict[str, str]:
        """What docs/deployment.md tells a machine to export, for the home ``home``."""
        if not (home / "dagster.yaml").exists():
            home.mkdir(parents=True, exist_ok=True)
            shutil.copy(REPO_ROOT / "deploy" / "dagster-postgres.yaml", home / "dagster.yaml")
        return {
            **os.environ,
            "PYTHONPATH": str(REPO_ROOT),
            "DAGSTER_HOME": str(home),
            "DAGSTER_PG_URL": self.dagster_url,
            "LEAD_PIPELINE_DB_URL": self.leads_url,
            "LEAD_PIPELINE_DATA_DIR": str(home.parent / "data"),
            "LEAD_PIPELINE_EXECUTOR": "celery",
            "LEAD_PIPELINE_CELERY_BROKER": self.broker,
            "LEAD_PIPELINE_CELERY_BACKEND": self.backend,
            **self.extra_env,
        }

    def client_env(self) -> dict[str, str]:
        return self.env(self.root / "client" / "dagster_home")

    def start_worker(self, name: str, concurrency: int = 1) -> Worker:
        folder = self.root / name
        folder.mkdir(parents=True, exist_ok=True)
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lead_pipeline.defs.celery_worker",
                "--name",
                name,
                "--",
                "-c",
                str(concurrency),
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=folder,
            env=self.env(folder / "dagster_home"),
            stdout=(folder / "worker.log").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so kill() takes its pool too
        )
        worker = Worker(name, folder, process)
        self.workers.append(worker)
        return worker

    def wait_ready(self, timeout: float = 120) -> None:
        """Until every worker logs that it is ready to take tasks."""
        deadline = time.monotonic() + timeout
        for worker in self.workers:
            while " ready." not in worker.log_text():
                if worker.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"worker {worker.name} did not start:\n{worker.log_text()}")
                time.sleep(0.2)

    def stop(self) -> None:
        for worker in self.workers:
            worker.kill()

    def logs(self) -> str:
        return "\n".join(f"--- {w.name}\n{w.log_text()[-4000:]}" for w in self.workers)
