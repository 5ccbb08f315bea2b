"""No key reaches Dagster's storage through a sensor tick, whole or in part.

A tick is evaluated as the daemon evaluates it: the workspace of ``workspace.yaml``
loaded in a code server (a ``dagster api grpc`` process, our definitions loaded there),
``execute_sensor_iteration`` asking it for each running sensor's tick, and the daemon
storing what comes back (the tick with its skip reason or error, the sensor's log lines).
The providers behind the ``hubspot_lists`` and ``llm_batches`` sensors (HubSpot, and the
OpenAI and Anthropic batch APIs) answer every tick with an error that quotes the key they
were sent, in each way a careless provider does; then every file of the Dagster home and
the lead store is searched for each key and every 8-character piece of it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import dagster as dg
import pytest

from lead_pipeline.cli import main
from lead_pipeline.engine.options import RunOptions
from lead_pipeline.engine.registry import registry
from lead_pipeline.engine.workflow_run import WorkflowRun
from lead_pipeline.settings import get_settings, reset_settings
from lead_pipeline.store import LeadStore
from lead_pipeline.workflows.loader import load_workflows
from lead_pipeline_tests.batch.conftest import WORKFLOW
from lead_pipeline_tests.conftest import REPO_ROOT
from lead_pipeline_tests.reliability.test_no_key_leaves import _pieces, echoes
from lead_pipeline_tests.servers import HubSpotServer, Reply
from lead_pipeline_tests.servers.llm_batch import AnthropicBatchServer, OpenAIBatchServer

pytestmark = pytest.mark.slow(minutes=2)

KEYS = {
    "HUBSPOT_ACCESS_TOKEN": "pat-na1-tick-5c1a9e3f7b2d4086",
    "OPENAI_API_KEY": "sk-tick-0penai-8d2b6f4a1c9e3057",
    "ANTHROPIC_API_KEY": "sk-ant-tick-3e7c1a9f5d2b8046",
}


def hostile(key: str) -> list[Reply]:
    """The echoes of the key-leak test, and a 200 whose body does not fit and quotes it."""
    shapes = [echo(None) for echo in echoes(key)]  # type: ignore[arg-type]
    return [*shapes, Reply(json={"id": 7, "results": key, "status": key, "message": key})]


def _submit(store: LeadStore, backend: str, tmp_path: Path) -> None:
    """A batch open at ``backend`` for the list of the same name, as ``enrich --lane batch``."""
    folder = tmp_path / f"wf-{backend}"
    folder.mkdir()
    (folder / "grade.yaml").write_text(WORKFLOW.replace("BACKEND", backend))
    [workflow] = load_workflows([folder], builtin_dirs=[], node_types=registry())
    rows = [(f"row{i}", {"name": f"Company {i}", "product": f"tool {i}"}) for i in range(2)]
    store.import_rows(backend, rows)
    run = WorkflowRun(store, workflow, backend, RunOptions(lane="batch"), settings=get_settings())
    selection = run.select()
    run.close(selection, [run.run_shard(shard) for shard in run.shards(selection)])


def test_a_key_echoed_to_a_sensor_reaches_no_tick_log_or_event(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagster._core.test_utils import create_test_daemon_workspace_context
    from dagster._core.workspace.load_target import WorkspaceFileTarget
    from dagster._daemon.sensor import execute_sensor_iteration

    from lead_pipeline.defs.batch_sensor import BATCH_SENSOR_NAME
    from lead_pipeline.defs.crm_sensor import CRM_SENSOR_NAME
    from lead_pipeline.defs.partitions import instance

    hubspot = HubSpotServer(token=KEYS["HUBSPOT_ACCESS_TOKEN"]).start()
    openai = OpenAIBatchServer(api_key=KEYS["OPENAI_API_KEY"]).start()
    anthropic = AnthropicBatchServer(api_key=KEYS["ANTHROPIC_API_KEY"]).start()
    servers = {"hubspot": hubspot, "openai": openai, "anthropic": anthropic}
    try:
        for server in servers.values():
            for name, value in server.env().items():
                monkeypatch.setenv(name, value)
        monkeypatch.setenv("LEAD_PIPELINE_RETRY", '{"max_attempts": 1}')
        reset_settings()
        store = LeadStore()
        for i in range(3):
            hubspot.add_company(name=f"Company {i}", domain=f"company{i}.com")
        assert main(["import", "hubspot", "--lead", "crm"]) == 0
        _submit(store, "openai", tmp_path)
        _submit(store, "anthropic", tmp_path)
        assert openai.batches and anthropic.batches  # each sensor has something to ask about
        store.dispose()

        dagster = instance()
        keys = {
            "hubspot": KEYS["HUBSPOT_ACCESS_TOKEN"],
            "openai": KEYS["OPENAI_API_KEY"],
            "anthropic": KEYS["ANTHROPIC_API_KEY"],
        }
        shapes = {family: hostile(key) for family, key in keys.items()}
        target = WorkspaceFileTarget(paths=[str(REPO_ROOT / "workspace.yaml")])
        with create_test_daemon_workspace_context(target, dagster) as workspace:
            entries = workspace.create_request_context().get_code_location_entries()
            [entry] = entries.values()
            assert entry.code_location is not None, entry.load_error
            [repository] = entry.code_location.get_repositories().values()
            sensors = [repository.get_sensor(n) for n in (CRM_SENSOR_NAME, BATCH_SENSOR_NAME)]
            for shape in range(len(shapes["hubspot"])):
                for family, server in servers.items():
                    server.reset()
                    server.script(*[shapes[family][shape]] * 3)
                for sensor in sensors:  # due now: a tick per shape, whatever the interval
                    origin, selector = sensor.get_remote_origin_id(), sensor.selector_id
                    if dagster.get_instigator_state(origin, selector) is not None:
                        dagster.delete_instigator_state(origin, selector)
                    dagster.start_sensor(sensor)
                list(execute_sensor_iteration(workspace, logging.getLogger("daemon"), None, None))
                assert hubspot.requests and openai.requests and anthropic.requests, shape
            ticks = [
                tick
                for sensor in sensors
                for tick in dagster.get_ticks(sensor.get_remote_origin_id(), sensor.selector_id)
            ]
    finally:
        for server in servers.values():
            server.stop()

    assert len(ticks) == 2 * len(shapes["hubspot"])
    told = " ".join(str(t.skip_reason or "") + str(t.error or "") for t in ticks)
    assert "***" in told, told  # the ticks say what went wrong, with the key masked
    data = Path(os.environ["LEAD_PIPELINE_DATA_DIR"])
    home = Path(os.environ["DAGSTER_HOME"])
    places = {
        str(path): path.read_bytes().decode("utf-8", "replace").lower()
        for folder in (data, home)
        for path in folder.rglob("*")
        if path.is_file()
    }
    assert any(p.endswith(".db") for p in places)
    found = [
        f"{name} ({piece!r}) in {where}"
        for name, secret in KEYS.items()
        for piece in sorted(_pieces(secret))
        for where, text in places.items()
        if piece in text
    ]
    assert found == [], "\n".join(found[:40])


def test_a_tick_error_quoting_a_key_is_masked_where_it_leaves_the_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whatever raised it: a sensor whose exception (and its cause) quotes the token, or a
    skip reason that does, hands the daemon its error or result with the token masked,
    in the function the gRPC code server and an in-process code location both call."""
    import dagster._core.remote_representation.code_location as in_process
    import dagster._grpc.server as code_server
    from dagster._serdes import serialize_value

    from lead_pipeline.defs.redaction import guard_event_log

    token = KEYS["HUBSPOT_ACCESS_TOKEN"]
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", token)
    reset_settings()

    @dg.op
    def noop() -> None:
        pass

    @dg.job
    def chain() -> None:
        noop()

    @dg.sensor(job=chain)
    def careless(_context: dg.SensorEvaluationContext) -> None:
        try:
            raise ValueError(f"HubSpot answered: token {token} is expired")
        except ValueError as exc:
            raise RuntimeError(f"refresh failed for Bearer {token.upper()}") from exc

    @dg.sensor(job=chain)
    def chatty(_context: dg.SensorEvaluationContext) -> dg.SensorResult:
        return dg.SensorResult(skip_reason=f"not refreshed: {token[3:]} was refused")

    repository = dg.Definitions(jobs=[chain], sensors=[careless, chatty]).get_repository_def()
    guard_event_log()  # as loading our definitions in a code server does
    for evaluate in (
        in_process.get_external_sensor_execution,
        code_server.get_external_sensor_execution,
    ):
        for sensor in ("careless", "chatty"):
            told = serialize_value(
                evaluate(repository, None, None, sensor, None, None, None, None, None)  # type: ignore[arg-type]
            )
            assert "***" in told, told
            assert [p for p in _pieces(token) if p in told.lower()] == [], told
