"""Operating the pipeline from the Dagster UI: the real webserver and daemon, driven by GraphQL.

The end-to-end test starts ``dagster-webserver`` and ``dagster-daemon`` from the
repository root with ``workspace.yaml``, exactly as ``make ui`` does, with the
Dagster home and the data folder in the test's own directory and OpenAI and
Serper stand-ins on 127.0.0.1. It then does what a user does in the UI, through
the same GraphQL mutations the UI sends: launch the chain for a lead list from
the launchpad, backfill two lead lists, turn on the lead-file sensor, and
force-terminate a run whose process was killed.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import httpx2
import pytest

from lead_pipeline.classify import classify
from lead_pipeline.defs.assets import build_workflow_asset
from lead_pipeline.defs.checks import CheckSettings, build_workflow_checks
from lead_pipeline.defs.definitions import chain_job
from lead_pipeline.defs.io_manager import LeadStoreIOManager
from lead_pipeline.defs.partitions import (
    DEFAULT_INSTANCE_YAML,
    PROVIDER_POOLS,
    instance,
    register_lead_list,
)
from lead_pipeline.defs.resources import EnrichOptions, LeadStoreResource
from lead_pipeline.engine.registry import registry
from lead_pipeline.founders import is_canonical_profile_url
from lead_pipeline.leads import import_file
from lead_pipeline.leads.fields import guess_mapping
from lead_pipeline.settings import get_settings
from lead_pipeline.store import LeadStore
from lead_pipeline.workflows.loader import load_workflows
from lead_pipeline_tests.conftest import REPO_ROOT, missing
from lead_pipeline_tests.servers import HunterServer, OpenAIServer, SerperServer

BIN = Path(sys.executable).parent
LOCATION = "lead_pipeline"
REPOSITORY = "__repository__"
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}
B2B_CHECKS = ("coverage", "failure_rate", "output_validity")


def test_the_instance_counts_provider_pools_per_run() -> None:
    """Per-run pools: queued runs wait for a provider; ``execute_job`` never waits on one."""
    dagster_instance = instance()
    config = dagster_instance.event_log_storage.get_pool_config()
    assert config.pool_granularity is not None and config.pool_granularity.value == "run"
    assert config.default_pool_limit == 1
    # Every provider pool has its limit before any run asks for it (see ensure_provider_pools).
    limits = {p.name: p.limit for p in dagster_instance.event_log_storage.get_pool_limits()}
    assert limits == dict.fromkeys(PROVIDER_POOLS, 1)
    # A limit set by hand survives the next start.
    dagster_instance.event_log_storage.set_concurrency_slots("llm", 2)
    again = instance()
    assert {p.name: p.limit for p in again.event_log_storage.get_pool_limits()}["llm"] == 2


def test_the_default_dagster_yaml_is_written_once_and_an_edited_one_kept() -> None:
    config = get_settings().dagster_home / "dagster.yaml"
    instance()
    assert config.read_text() == DEFAULT_INSTANCE_YAML
    edited = DEFAULT_INSTANCE_YAML.replace("max_concurrent_runs: 4", "max_concurrent_runs: 8")
    config.write_text(edited)
    assert instance().get_concurrency_config().run_queue_config.max_concurrent_runs == 8
    assert config.read_text() == edited


# ---- processes and GraphQL -------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A server in its own process group, so stopping it stops every child it spawned."""
    with log.open("wb") as out:
        return subprocess.Popen(
            args,
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    for sig, grace in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(grace)
            return
        except subprocess.TimeoutExpired:
            continue


def wait_for(
    what: str,
    probe: Callable[[], Any],
    timeout: float,
    logs: list[Path],
    progress: Callable[[], Any] | None = None,
) -> Any:
    """Poll until ``probe`` returns something truthy; fail, with the server logs, once
    ``timeout`` seconds passed with nothing new: without ``progress``, since the start;
    with it, since the value ``progress`` returns last changed (a run still writing events
    on a loaded machine is waited for, however long it takes; a run stuck is not)."""
    mark = progress() if progress is not None else None
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if progress is not None and (moved := progress()) != mark:
            mark, deadline = moved, time.monotonic() + timeout
        if time.monotonic() >= deadline:
            break
        time.sleep(0.3)
    tails = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in logs)
    quiet = "with no new event in the event log " if progress is not None else ""
    pytest.fail(f"{timeout:.0f}s passed {quiet}waiting for {what}\n{tails}")


@dataclass
class UI:
    url: str
    logs: list[Path]
    daemon_log: Path
    dagster: dg.DagsterInstance | None = None  # the same instance, read for progress

    def gql(self, query: str, **variables: Any) -> dict[str, Any]:
        response = httpx2.post(
            f"{self.url}/graphql", json={"query": query, "variables": variables}, timeout=60
        )
        response.raise_for_status()
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]

    def wait(self, what: str, probe: Callable[[], Any], timeout: float = 90) -> Any:
        return wait_for(what, probe, timeout, self.logs)

    def events(self) -> int | None:
        """The newest event's id in the instance's event log: it moves while any run works."""
        if self.dagster is None:
            self.dagster = instance()
        return self.dagster.event_log_storage.get_maximum_record_id()

    def wait_on_runs(self, what: str, probe: Callable[[], Any], quiet: float = 120) -> Any:
        """Wait while runs make progress: fail only after ``quiet`` seconds without an event."""
        return wait_for(what, probe, quiet, self.logs, progress=self.events)

    def run(self, run_id: str) -> dict[str, Any]:
        return self.gql(RUN, id=run_id)["runOrError"]

    def finished(self, run_id: str, quiet: float = 120) -> dict[str, Any]:
        return self.wait_on_runs(
            f"run {run_id} to finish",
            lambda: (r := self.run(run_id))["status"] in FINISHED and r,
            quiet,
        )


LAUNCH_RUN = """
mutation($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId status } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message }
  }
}"""

LAUNCH_BACKFILL = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}"""

BACKFILL = """
query($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    ... on PartitionBackfill { status runs(limit: 10) { runId status } }
  }
}"""

RUN = """
query($id: ID!) {
  runOrError(runId: $id) {
    ... on Run { runId status startTime endTime tags { key value } }
  }
}"""

RUNS = """
query { runsOrError(limit: 50) { ... on Runs { results { runId status startTime endTime
  tags { key value } } } } }"""

TERMINATE = """
mutation($id: String!) {
  terminateRun(runId: $id, terminatePolicy: MARK_AS_CANCELED_IMMEDIATELY) {
    __typename
    ... on TerminateRunSuccess { run { status } }
    ... on TerminateRunFailure { message }
    ... on PythonError { message }
  }
}"""

START_SENSOR = """
mutation($selector: SensorSelector!) {
  startSensor(sensorSelector: $selector) {
    __typename
    ... on Sensor { sensorState { status } }
    ... on PythonError { message }
  }
}"""

LOCATION_STATUS = """
query { workspaceOrError { ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message } } } } } }"""

MATERIALIZATIONS = """
query($key: AssetKeyInput!, $partitions: [String!]) {
  assetOrError(assetKey: $key) {
    ... on Asset {
      assetMaterializations(partitions: $partitions, limit: 1) {
        partition runId
        metadataEntries {
          label
          ... on IntMetadataEntry { intValue }
          ... on FloatMetadataEntry { floatValue }
          ... on MarkdownMetadataEntry { mdStr }
          ... on TableMetadataEntry { table { records schema { columns { name } } } }
        }
      }
    }
  }
}"""

CHECKS = """
query($key: AssetKeyInput!, $name: String!, $partition: String) {
  assetCheckExecutions(assetKey: $key, checkName: $name, partition: $partition, limit: 10) {
    runId status partition evaluation { success description }
  }
}"""


def launch(ui: UI, lead_list: str, run_config: dict[str, Any], assets: list[str] | None) -> str:
    selector: dict[str, Any] = {
        "repositoryLocationName": LOCATION,
        "repositoryName": REPOSITORY,
        "jobName": "enrich_chain",
    }
    if assets is not None:  # the UI's "Materialize selected": these assets and their checks
        selector["assetSelection"] = [{"path": [a]} for a in assets]
        selector["assetCheckSelection"] = [
            {"assetKey": {"path": [a]}, "name": name} for a in assets for name in B2B_CHECKS
        ]
    outcome = ui.gql(
        LAUNCH_RUN,
        params={
            "selector": selector,
            "runConfigData": run_config,
            "executionMetadata": {"tags": [{"key": "dagster/partition", "value": lead_list}]},
            "mode": "default",
        },
    )["launchRun"]
    assert outcome["__typename"] == "LaunchRunSuccess", outcome
    return outcome["run"]["runId"]


def materialization(ui: UI, asset: str, lead_list: str) -> dict[str, Any]:
    found = ui.gql(MATERIALIZATIONS, key={"path": [asset]}, partitions=[lead_list])
    [event] = found["assetOrError"]["assetMaterializations"]
    assert event["partition"] == lead_list
    return {e["label"]: _entry_value(e) for e in event["metadataEntries"]}


def _entry_value(entry: dict[str, Any]) -> Any:
    """A number or text as is; a table as ``{"columns": [...], "records": [{...}, ...]}``."""
    if "table" in entry:
        table = entry["table"]
        return {
            "columns": [c["name"] for c in table["schema"]["columns"]],
            "records": [json.loads(r) for r in table["records"]],
        }
    return entry.get("intValue", entry.get("floatValue", entry.get("mdStr")))


def tag(run: dict[str, Any], key: str) -> str | None:
    return next((t["value"] for t in run["tags"] if t["key"] == key), None)


# ---- the scenario ----------------------------------------------------------


def linkedin_results(query: str, num: int) -> list[dict[str, str]]:
    name = re.search(r'"([^"]+)"', query).group(1)  # type: ignore[union-attr]
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return [
        {
            "title": f"Alex Rivera - Co-founder & CEO - {name} | LinkedIn",
            "url": f"https://www.linkedin.com/in/alex-{slug}",
            "snippet": f"Co-founder at {name}",
        }
    ][:num]


@pytest.fixture
def lead_files(tmp_path: Path) -> dict[str, Path]:
    rows = json.loads((REPO_ROOT / "data" / "leads" / "yc-f25.json").read_text())
    files = {}
    for index, name in enumerate(("alpha", "beta", "gamma", "delta", "epsilon")):
        files[name] = tmp_path / f"{name}.json"
        files[name].write_text(json.dumps(rows[index * 8 : index * 8 + 8]))
    return files


@pytest.fixture
def ui(tmp_path: Path, lead_files: dict[str, Path]) -> Iterator[tuple[UI, OpenAIServer, Path]]:
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    # The whole chain needs a work-email finder too (founder_email); it knows nobody.
    with (
        OpenAIServer() as llm,
        SerperServer(results=linkedin_results) as serper,
        HunterServer() as hunter,
    ):
        env = {
            **os.environ,
            **llm.env(),
            **serper.env(),
            **hunter.env(),
            "LEAD_PIPELINE_LEADS_DIR": str(incoming),
            "PYTHONUNBUFFERED": "1",
        }
        # The lead list the user imports on the command line before opening the UI.
        imported = subprocess.run(
            [
                sys.executable,
                "-m",
                "lead_pipeline.cli",
                "import",
                str(lead_files["alpha"]),
                "--lead",
                "alpha",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert imported.returncode == 0, imported.stderr
        store = LeadStore()
        for name in ("beta", "gamma", "delta"):
            import_file(store, lead_files[name], name)
            register_lead_list(name)
        store.dispose()

        port = free_port()
        web_log, daemon_log = tmp_path / "webserver.log", tmp_path / "daemon.log"
        workspace = ["-w", "workspace.yaml"]
        web = start(
            [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), *workspace],
            web_log,
            env,
        )
        daemon = start([str(BIN / "dagster-daemon"), "run", *workspace], daemon_log, env)
        try:
            handle = UI(f"http://127.0.0.1:{port}", [web_log, daemon_log], daemon_log)
            handle.wait("the code location to load", lambda: _loaded(handle), timeout=60)
            yield handle, llm, incoming
        finally:
            stop(web)
            stop(daemon)


def _loaded(ui: UI) -> bool:
    try:
        entries = ui.gql(LOCATION_STATUS)["workspaceOrError"]["locationEntries"]
    except httpx2.HTTPError:
        return False
    [entry] = entries
    if entry["loadStatus"] != "LOADED":
        return False
    assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation", entry
    return True


def asked_about(llm: OpenAIServer, names: set[str], question: str) -> int:
    """How many LLM requests asked ``question`` (an output name) about one of ``names``."""
    count = 0
    for request in llm.requests:
        text = " ".join(str(m.get("content", "")) for m in request.json["messages"])
        named = re.search(r"Name: (.*)", text)
        count += bool(
            named and named.group(1).strip() in names and question in json.dumps(request.json)
        )
    return count


@pytest.mark.slow(minutes=2)
def test_the_ui_launches_backfills_and_automates_the_chain(
    ui: tuple[UI, OpenAIServer, Path], lead_files: dict[str, Path]
) -> None:
    handle, llm, incoming = ui
    store = LeadStore()

    # A run whose process was killed: storage still says STARTED, so it holds the llm pool.
    killed = _killed_run("delta")

    # The launchpad: the whole chain for one lead list, with parallel set in the config.
    alpha_run = launch(
        handle, "alpha", {"resources": {"enrich": {"config": {"parallel": 3}}}}, assets=None
    )
    # A backfill of two lead lists, and the lead-file sensor turned on with a new file waiting.
    backfill = handle.gql(
        LAUNCH_BACKFILL,
        params={"assetSelection": [{"path": ["b2b_only"]}], "partitionNames": ["beta", "gamma"]},
    )["launchPartitionBackfill"]
    assert backfill["__typename"] == "LaunchBackfillSuccess", backfill
    (incoming / "epsilon.json").write_text(lead_files["epsilon"].read_text())
    sensor = handle.gql(
        START_SENSOR,
        selector={
            "repositoryLocationName": LOCATION,
            "repositoryName": REPOSITORY,
            "sensorName": "lead_files",
        },
    )["startSensor"]
    assert sensor["__typename"] == "Sensor" and sensor["sensorState"]["status"] == "RUNNING"

    # The queue holds the launched run while the dead run has the llm pool...
    handle.wait(
        "the daemon to hold the run for the llm pool",
        lambda: (
            f"Run {alpha_run} is blocked by global concurrency limits"
            in handle.daemon_log.read_text()
        ),
    )
    assert handle.run(alpha_run)["status"] == "QUEUED"
    # ...until the dead run is force-terminated (the UI's Terminate > Force termination).
    terminated = handle.gql(TERMINATE, id=killed)["terminateRun"]
    assert terminated["__typename"] == "TerminateRunSuccess", terminated
    assert handle.run(killed)["status"] == "CANCELED"

    # The launched run: rows in the store, metadata and checks on the materializations.
    run = handle.finished(alpha_run)
    assert run["status"] == "SUCCESS", run
    frame = store.wide_frame("alpha")
    assert frame["is_b2b"].notna().all()
    b2b_rows = int(frame["is_b2b"].sum())
    for founders in frame[frame["is_b2b"] == True]["founders"]:  # noqa: E712
        assert founders and all(is_canonical_profile_url(f["linkedin_url"]) for f in founders)
    records = [r for r in store.recent_runs("alpha") if r["dagster_run_id"] == alpha_run]
    assert sorted(r["workflow"] for r in records) == [
        "b2b_only",
        "founder_email",
        "founder_linkedin",
    ]
    assert all(r["params"]["parallel"] == 3 for r in records)  # the launchpad's config

    alpha_rows = json.loads(lead_files["alpha"].read_text())
    # The model reads the canonical fields (YC's long_description is the description).
    mapping = guess_mapping(list(alpha_rows[0]))
    canonical = [{**r, **mapping.canonical_values(r)} for r in alpha_rows]
    unsure = sum(classify(r).confidence < 0.8 for r in canonical)
    assert asked_about(llm, {r["name"] for r in alpha_rows}, '"is_b2b"') == unsure
    b2b_meta = materialization(handle, "b2b_only", "alpha")
    assert (b2b_meta["ok"], b2b_meta["failed"], b2b_meta["rows"]) == (len(frame), 0, len(frame))
    assert "duration_s" in b2b_meta and "rows_per_minute" in b2b_meta
    assert b2b_meta["preview"]["columns"][:3] == ["name", "website", "is_b2b"]  # a table
    founders_meta = materialization(handle, "founder_linkedin", "alpha")
    assert founders_meta["ok"] == b2b_rows
    assert "linkedin.com/in/alex-" in json.dumps(founders_meta["preview"]["records"])

    for asset in ("b2b_only", "founder_linkedin"):  # each check ran in the run, for alpha
        for name in B2B_CHECKS:
            executions = handle.gql(CHECKS, key={"path": [asset]}, name=name, partition="alpha")
            [execution] = [e for e in executions["assetCheckExecutions"] if e["runId"] == alpha_run]
            assert execution["status"] == "SUCCEEDED" and execution["partition"] == "alpha"
            assert execution["evaluation"]["success"], (asset, name, execution)

    # The backfill's runs and the sensor's run follow, one at a time (the llm pool).
    def backfill_runs() -> list[str] | None:
        found = handle.gql(BACKFILL, id=backfill["backfillId"])["partitionBackfillOrError"]
        return [r["runId"] for r in found["runs"]] if len(found["runs"]) == 2 else None

    def sensor_run() -> str | None:
        runs = handle.gql(RUNS)["runsOrError"]["results"]
        found = [r for r in runs if tag(r, "dagster/partition") == "epsilon"]
        assert all(tag(r, "lead_pipeline/source") == "sensor" for r in found)
        return found[0]["runId"] if found else None

    others = [
        *handle.wait_on_runs("the backfill's two runs", backfill_runs),
        handle.wait_on_runs("the sensor's run", sensor_run),
    ]
    finished = [handle.finished(r) for r in others]
    assert [r["status"] for r in finished] == ["SUCCESS"] * 3, finished
    assert sorted(tag(r, "dagster/partition") for r in finished) == ["beta", "epsilon", "gamma"]
    spans = sorted((r["startTime"], r["endTime"]) for r in [run, *finished])
    for (_, end), (next_start, _) in itertools.pairwise(spans):
        assert next_start >= end, f"runs overlapped in the llm pool: {spans}"
    for name in ("beta", "gamma", "epsilon"):
        # Every company is answered but one with neither a one-liner nor a description
        # (beta has one): that row is skipped, not guessed.
        frame = store.wide_frame(name)
        unanswered = set(frame.loc[frame["is_b2b"].isna(), "name"])
        rows = json.loads(lead_files[name].read_text())
        no_evidence = {r["name"] for r in rows if not (r["one_liner"] or r["long_description"])}
        assert unanswered == no_evidence, name
        assert frame["is_b2b"].notna().sum() == len(rows) - len(no_evidence) > 0, name
    assert instance().has_dynamic_partition("lead_lists", "epsilon")
    store.dispose()


def _killed_run(lead_list: str) -> str:
    """A run as a killed run worker leaves it: started, never finished, no process behind it.

    Made in storage rather than by killing a real worker at the right moment:
    the state the queue sees is the same, and the test cannot race the run.
    """
    run = instance().create_run_for_job(
        job_def=chain_job(),
        tags={"dagster/partition": lead_list},
        asset_selection=frozenset({dg.AssetKey("b2b_only")}),
        status=dg.DagsterRunStatus.STARTED,
    )
    assert run.run_op_concurrency is not None and "llm" in run.run_op_concurrency.all_pools
    return run.run_id


# ---- the asset page in a browser -------------------------------------------


def dump_dom(browser: str, url: str, profile: Path) -> str:
    """The page as headless Chromium renders it once the UI's own queries have answered."""
    result = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=20000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.mark.slow
def test_the_asset_page_shows_partitions_metadata_and_checks(
    tmp_path: Path, lead_files: dict[str, Path]
) -> None:
    browser = shutil.which("chromium")
    if browser is None:
        missing("chromium is not installed (apt-get install chromium); .ci/run installs it")
    store = LeadStore()
    for name in ("alpha", "beta"):
        import_file(store, lead_files[name], name)
        register_lead_list(name)
    b2b = next(
        w
        for w in load_workflows(node_types=registry(), set_aside_broken=True)
        if w.name == "b2b_only"
    )
    resource = LeadStoreResource()
    outcome = dg.materialize(
        [build_workflow_asset(b2b), build_workflow_checks(b2b)],
        partition_key="alpha",
        instance=instance(),
        resources={
            "store": resource,
            "enrich": EnrichOptions(),
            "checks": CheckSettings(),
            "io_manager": LeadStoreIOManager(store=resource),
        },
    )
    assert outcome.success

    port = free_port()
    log = tmp_path / "webserver.log"
    web = start(
        [
            str(BIN / "dagster-webserver"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-w",
            "workspace.yaml",
        ],
        log,
        dict(os.environ),
    )
    try:
        handle = UI(f"http://127.0.0.1:{port}", [log], log)
        handle.wait("the code location to load", lambda: _loaded(handle), timeout=60)
        page = f"{handle.url}/assets/b2b_only"
        overview = dump_dom(browser, page, tmp_path / "profile")
        assert "Decide whether each company sells to businesses" in overview
        for label in ("rows_per_minute", "cost_usd", "duration_s", "preview"):
            assert label in overview, label
        partitions = dump_dom(browser, f"{page}?view=partitions", tmp_path / "profile")
        assert "alpha" in partitions and "beta" in partitions
        checks = dump_dom(browser, f"{page}?view=checks", tmp_path / "profile")
        for name in B2B_CHECKS:
            assert name in checks, name
    finally:
        stop(web)
        store.dispose()
