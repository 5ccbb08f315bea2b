"""A Celery worker killed mid-run: its steps go to the survivor, nothing hangs or is paid twice."""

from __future__ import annotations

import subprocess
import sys
import time

import dagster as dg
import pytest
from celery import Celery

from lead_pipeline.defs.celery_watch import Liveness, StepLost, WatchedStep
from lead_pipeline.store import LeadStore
from lead_pipeline_tests.defs.test_chain_end_to_end import founder_results
from lead_pipeline_tests.scaleout.cluster import Cluster
from lead_pipeline_tests.scaleout.test_celery_cluster import RUN_OPTIONS, SAMPLE, cli, step_workers
from lead_pipeline_tests.servers import SerperServer

pytestmark = [pytest.mark.slow(minutes=1), pytest.mark.postgres]
ROWS_IN_FLIGHT_PER_SHARD = 2  # --parallel 8 over 4 shards (--shard-size 25, 99 B2B rows)


def test_a_killed_worker_s_step_is_redelivered_to_the_survivor(
    cluster: Cluster, monkeypatch
) -> None:
    # Each search takes 0.4 s, so a founder shard runs long enough to be killed mid-way.
    with SerperServer(results=founder_results, latency=0.4) as serper:
        cluster.extra_env.update(serper.env())
        cluster.extra_env["LEAD_PIPELINE_CELERY_LOST_AFTER"] = "8"
        env = cluster.client_env()
        # First: it makes Dagster's tables, which workers starting together would race to make.
        assert cli(env, "import", str(SAMPLE), "--lead", "yc-f25").returncode == 0
        w1 = cluster.start_worker("w1")
        cluster.start_worker("w2")
        cluster.wait_ready()
        run = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lead_pipeline.cli",
                "enrich",
                "--lead",
                "yc-f25",
                "--workflow",
                "all",
                *RUN_OPTIONS,
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            deadline = time.monotonic() + 240
            while serper.count("/search") < 12:  # both workers are in founder shards by now
                assert run.poll() is None, run.communicate()[0] + cluster.logs()
                assert time.monotonic() < deadline, cluster.logs()
                time.sleep(0.1)
            w1.kill()
            output, _ = run.communicate(timeout=300)
        finally:
            run.kill()
        assert run.returncode == 0, output + cluster.logs()

        store = LeadStore(cluster.leads_url)
        try:
            frame = store.wide_frame("yc-f25").set_index("_id")
        finally:
            store.dispose()
        b2b = frame[frame["is_b2b"] == True]  # noqa: E712
        assert b2b["founders"].map(len).eq(1).all()  # every row finished, on the survivor
        # The redelivered shard's finished rows answer from the response cache: at most
        # the rows in flight on the killed worker are asked again.
        assert len(b2b) <= serper.count("/search") <= len(b2b) + ROWS_IN_FLIGHT_PER_SHARD

    for key, value in cluster.client_env().items():
        monkeypatch.setenv(key, value)
    with dg.DagsterInstance.get() as instance:
        (dagster_run,) = [r for r in instance.get_runs() if r.is_success]
        lost = [
            r.dagster_event.step_key
            for r in instance.all_logs(dagster_run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT)
            if "stopped answering" in r.message
        ]
    assert lost and all("founder_linkedin__run_shard" in str(k) for k in lost), lost
    by_step = step_workers(cluster, monkeypatch)
    for step in lost:
        assert any(w.startswith("w1@") for w in by_step[step]), by_step
        assert any(w.startswith("w2@") for w in by_step[step]), by_step


def test_a_step_no_worker_takes_fails_naming_it(cluster: Cluster) -> None:
    """No worker on the broker at all: the step fails in bounded time, by name."""
    app = Celery("dagster", broker=cluster.broker, backend=cluster.backend)
    sent = []
    step = WatchedStep(
        step_key="founder_linkedin__run_shard[2]",
        submit=lambda: sent.append(1) or app.send_task("execute_plan", queue="dagster"),
        liveness=Liveness(app, every_s=0.2),
        report=lambda message, data: None,
        lost_after_s=1.0,
        max_redeliveries=2,
    )
    deadline = time.monotonic() + 30
    while not step.ready():
        assert time.monotonic() < deadline
        time.sleep(0.2)
    with pytest.raises(StepLost, match=r"founder_linkedin__run_shard\[2\].*no Celery worker"):
        step.get()
    assert sent == [1]  # nothing to redeliver to


def test_the_cli_stops_waiting_on_a_run_that_makes_no_progress(
    cluster: Cluster, monkeypatch
) -> None:
    """Tasks on a broker no worker serves, the watchdog told to wait an hour: the CLI
    still returns, names the run, and marks it failed so nothing waits on it."""
    cluster.extra_env["LEAD_PIPELINE_CELERY_LOST_AFTER"] = "3600"
    cluster.extra_env["LEAD_PIPELINE_RUN_STALL_TIMEOUT"] = "15"
    env = cluster.client_env()
    assert cli(env, "import", str(SAMPLE), "--lead", "yc-f25").returncode == 0
    started = time.monotonic()
    done = cli(env, "enrich", "--lead", "yc-f25", "--workflow", "b2b_only", timeout=240)
    assert done.returncode != 0 and "Traceback" not in done.stderr, done.stdout + done.stderr
    output = done.stdout + done.stderr
    assert "no progress for 15s" in output and "LEAD_PIPELINE_RUN_STALL_TIMEOUT" in output
    assert time.monotonic() - started < 240
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with dg.DagsterInstance.get() as instance:
        (run,) = instance.get_runs()
    assert run.run_id in output and run.status == dg.DagsterRunStatus.FAILURE
