"""Dagster's Celery executor, with a run that notices when a step's worker dies.

Dagster's execution loop waits on each step's Celery result until it is ready.
When a whole worker dies (SIGKILL, a lost machine), the result never becomes
ready: on Redis the unacknowledged message comes back only after the broker's
visibility timeout (hours), on RabbitMQ when the connection drops. The run
would stay STARTED and its caller would wait forever.

Here each submitted step is watched. A step whose task is STARTED names the
worker that took it (``task_track_started``); when that worker has answered no
ping for ``lost_after_s`` seconds, the step is sent again to the queue (a
surviving worker takes it) and the lost task is revoked, so the broker's own
late redelivery is discarded. After ``max_redeliveries`` the step fails with a
message naming it and the worker; when no worker answers at all, a waiting
step fails the same way. A worker that survives but loses a pool process
requeues the task itself (``task_reject_on_worker_lost``); nothing is lost then.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
from celery import Celery
from celery.result import AsyncResult

from lead_pipeline.defs import StepLost
from lead_pipeline.defs.dagster_private import EngineEventData, RetryMode
from lead_pipeline.defs.dagster_private.celery import (
    CELERY_CONFIG,
    CeleryExecutor,
    core_celery_execution_loop,
    submit_task,
)


@dataclass
class Liveness:
    """Which Celery workers answer a ping, asked at most every ``every_s`` seconds each."""

    app: Celery
    every_s: float
    _seen: dict[str, tuple[float, bool]] = field(default_factory=dict)

    def _ask(self, key: str, destination: list[str] | None) -> bool:
        now = time.monotonic()
        cached = self._seen.get(key)
        if cached is not None and now - cached[0] < self.every_s:
            return cached[1]
        try:
            replies = self.app.control.ping(destination=destination, timeout=1.0, limit=1)
        except Exception:  # a broker hiccup is not proof of a dead worker
            replies = None
        alive = True if replies is None else bool(replies)
        self._seen[key] = (time.monotonic(), alive)
        return alive

    def worker(self, hostname: str) -> bool:
        return self._ask(hostname, [hostname])

    def any_worker(self) -> bool:
        return self._ask("*", None)


@dataclass
class WatchedStep:
    """Takes the place of the step's ``AsyncResult`` in Dagster's loop: ready, get, revoke."""

    step_key: str
    submit: Callable[[], AsyncResult]
    liveness: Liveness
    report: Callable[[str, dict[str, str]], None]
    lost_after_s: float
    max_redeliveries: int
    result: AsyncResult = field(init=False)
    redeliveries: int = 0
    _silent_since: float | None = None
    _lost: str | None = None

    def __post_init__(self) -> None:
        self.result = self.submit()

    def _worker_of(self) -> str | None:
        """The worker that took the task, once it is STARTED (``task_track_started``)."""
        try:
            if self.result.state != "STARTED":
                return None
            info = self.result.info
        except Exception:
            return None
        return info.get("hostname") if isinstance(info, dict) else None

    def ready(self) -> bool:
        if self._lost is not None or self.result.ready():
            return True
        worker = self._worker_of()
        alive = self.liveness.worker(worker) if worker else self.liveness.any_worker()
        now = time.monotonic()
        if alive:
            self._silent_since = None
            return False
        if self._silent_since is None:
            self._silent_since = now
        if now - self._silent_since < self.lost_after_s:
            return False
        self._silent_since = None
        if worker is None:
            self._lost = (
                f"step {self.step_key} waited {self.lost_after_s:.0f}s and no Celery worker "
                "answers on the broker: start a worker (see docs/deployment.md)"
            )
            return True
        if self.redeliveries >= self.max_redeliveries:
            self._lost = (
                f"step {self.step_key} was lost with Celery worker {worker} "
                f"(no answer for {self.lost_after_s:.0f}s) after {self.redeliveries} "
                "redelivery(ies); rows it finished are kept, run the workflow again for the rest"
            )
            return True
        lost = self.result
        self.redeliveries += 1
        self.result = self.submit()
        lost.revoke()  # the broker's own late redelivery of the lost copy is discarded
        self.report(
            f"Celery worker {worker} stopped answering while running step {self.step_key}; "
            f"sent the step to the queue again (redelivery {self.redeliveries} of "
            f"{self.max_redeliveries})",
            {"lost worker": worker, "lost task": lost.id, "new task": self.result.id},
        )
        return False

    def get(self) -> Any:
        if self._lost is not None:
            raise StepLost(self._lost)
        return self.result.get()

    def revoke(self) -> None:
        self.result.revoke()


class WatchedCeleryExecutor(CeleryExecutor):
    """``CeleryExecutor`` whose steps are :class:`WatchedStep` s."""

    def __init__(self, *, lost_after_s: float, max_redeliveries: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lost_after_s = lost_after_s
        self.max_redeliveries = max_redeliveries

    def execute(self, plan_context: Any, execution_plan: Any) -> Any:
        liveness: Liveness | None = None

        def submit(
            app: Celery, context: Any, step: Any, queue: str, priority: int, known_state: Any
        ) -> WatchedStep:
            nonlocal liveness
            if liveness is None:
                liveness = Liveness(app, every_s=min(5.0, max(self.lost_after_s / 3, 0.5)))

            def report(message: str, data: dict[str, str]) -> None:
                context.instance.report_engine_event(
                    message,
                    context.dagster_run,
                    EngineEventData(data),
                    cls=type(self),
                    step_key=step.key,
                )

            return WatchedStep(
                step_key=step.key,
                submit=lambda: submit_task(app, context, step, queue, priority, known_state),
                liveness=liveness,
                report=report,
                lost_after_s=self.lost_after_s,
                max_redeliveries=self.max_redeliveries,
            )

        return core_celery_execution_loop(plan_context, execution_plan, step_execution_fn=submit)


WATCH_CONFIG = {
    "lost_after_s": dg.Field(
        float,
        default_value=60.0,
        description="Seconds a step's worker may stay silent before the step is sent again.",
    ),
    "max_redeliveries": dg.Field(
        int,
        default_value=2,
        description="Times a lost step is sent again before the run fails naming it.",
    ),
}


@dg.executor(
    name="lead_pipeline_celery",
    config_schema={**CELERY_CONFIG, **WATCH_CONFIG},
    requirements=dg.multiple_process_executor_requirements(),
)
def watched_celery_executor(init_context: dg.InitExecutorContext) -> WatchedCeleryExecutor:
    config: Mapping[str, Any] = init_context.executor_config
    return WatchedCeleryExecutor(
        lost_after_s=config["lost_after_s"],
        max_redeliveries=config["max_redeliveries"],
        broker=config.get("broker"),
        backend=config.get("backend"),
        config_source=config.get("config_source"),
        include=config.get("include"),
        retries=RetryMode.from_config(config["retries"]),
    )
