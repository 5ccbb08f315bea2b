"""The lead-file sensor and the daily schedule, evaluated with Dagster's own test contexts.

Each test evaluates them against a real instance in the test's Dagster home and
the real lead store, the way the daemon does, tick after tick with the cursor
the previous tick returned.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from lead_pipeline.defs.definitions import CHAIN_JOB, build_definitions
from lead_pipeline.defs.partitions import LEAD_LISTS, instance, register_lead_list
from lead_pipeline.defs.requests import SKIPPED_TAG, SOURCE_TAG
from lead_pipeline.defs.resources import LeadStoreResource
from lead_pipeline.defs.schedules import SCHEDULE_NAME
from lead_pipeline.defs.sensors import MAX_FILES_PER_TICK, SENSOR_NAME
from lead_pipeline.store import LeadStore

ROWS = [
    {"name": "Acme Analytics", "website": "https://acme.example", "one_liner": "BI for teams"},
    {"name": "Bolt Payroll", "website": "https://bolt.example", "one_liner": "Payroll for SMBs"},
]
B2B = dg.AssetKey("b2b_only")
FOUNDERS = dg.AssetKey("founder_linkedin")


@pytest.fixture
def leads_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "incoming"
    folder.mkdir()
    monkeypatch.setenv("LEAD_PIPELINE_LEADS_DIR", str(folder))
    return folder


@pytest.fixture
def defs() -> dg.Definitions:
    return build_definitions()


class Sensor:
    """Ticks the sensor like the daemon: each tick gets the cursor the last one returned."""

    def __init__(self, defs: dg.Definitions) -> None:
        self.definition = defs.resolve_sensor_def(SENSOR_NAME)
        self.instance = instance()
        self.cursor: str | None = None

    def tick(self) -> dg.SensorResult:
        context = dg.build_sensor_context(
            instance=self.instance,
            cursor=self.cursor,
            resources={"store": LeadStoreResource()},
        )
        result = self.definition(context)
        assert isinstance(result, dg.SensorResult)
        self.cursor = result.cursor
        for request in result.dynamic_partitions_requests or []:
            # What the daemon does with the requests before launching the runs.
            self.instance.add_dynamic_partitions(
                request.partitions_def_name, request.partition_keys
            )
        return result


def write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps(rows))
    return path


def test_a_new_file_is_imported_registered_and_enriched_once(
    leads_dir: Path, defs: dg.Definitions
) -> None:
    write(leads_dir / "acme-q3.json", ROWS)
    sensor = Sensor(defs)

    first = sensor.tick()
    assert first.skip_reason is None
    [request] = first.run_requests or []
    assert request.partition_key == "acme-q3"
    assert request.asset_selection == [B2B]  # no search key here: founders left out
    assert "founder_linkedin" in request.tags[SKIPPED_TAG]
    assert request.tags[SOURCE_TAG] == "sensor"
    assert set(request.asset_check_keys or []) == {
        dg.AssetCheckKey(B2B, name) for name in ("coverage", "failure_rate", "output_validity")
    }
    assert [r.partition_keys for r in first.dynamic_partitions_requests or []] == [["acme-q3"]]
    assert LeadStore().row_count("acme-q3") == 2
    assert sensor.instance.has_dynamic_partition(LEAD_LISTS, "acme-q3")
    # The request is valid for the chain job: its partition and assets resolve.
    job = defs.resolve_job_def(CHAIN_JOB)
    assert B2B in job.asset_layer.selected_asset_keys

    again = sensor.tick()
    assert not again.run_requests
    assert again.skip_reason is not None and "no new or changed lead files" in str(
        again.skip_reason
    )
    assert not again.dynamic_partitions_requests


def test_a_changed_file_is_imported_again_and_launches_a_new_run(
    leads_dir: Path, defs: dg.Definitions
) -> None:
    path = write(leads_dir / "acme.json", ROWS)
    sensor = Sensor(defs)
    [first] = sensor.tick().run_requests or []

    path.touch()  # same content: nothing to do
    assert not sensor.tick().run_requests

    write(path, [*ROWS, {"name": "Cargo Ops", "website": "https://cargo.example"}])
    [second] = sensor.tick().run_requests or []
    assert second.partition_key == "acme"
    assert second.run_key != first.run_key  # a new run, not one the daemon would dedupe
    assert LeadStore().row_count("acme") == 3


# Same id, other values (exact copies now collapse into one row instead of failing).
DUPLICATES = "name,website\nAcme,https://a.example\nAcme Inc,https://a.example\n"


def test_bad_files_are_reported_by_name_and_never_stop_the_others(
    leads_dir: Path, defs: dg.Definitions
) -> None:
    write(leads_dir / "Bad Name.json", ROWS)
    (leads_dir / "broken.csv").write_text(DUPLICATES)
    (leads_dir / "notes.txt").write_text("not a lead file")
    (leads_dir / ".hidden.csv").write_text("name\nx\n")
    sensor = Sensor(defs)

    skipped = sensor.tick()
    assert not skipped.run_requests
    reason = str(skipped.skip_reason)
    assert "2 file(s) could not be imported" in reason
    assert "Bad Name.json" in reason and "invalid lead list name 'Bad Name'" in reason
    assert "broken.csv, line 3" in reason and "duplicate id" in reason
    assert not LeadStore().lists()

    # Unchanged bad files are not reported again; a good file still goes through.
    assert "no new or changed" in str(sensor.tick().skip_reason)
    write(leads_dir / "good.json", ROWS)
    [good] = sensor.tick().run_requests or []
    assert good.partition_key == "good"

    # A fixed file is imported on the next tick.
    (leads_dir / "broken.csv").write_text(DUPLICATES.replace("Acme,https://a", "Beta,https://b", 1))
    [fixed] = sensor.tick().run_requests or []
    assert fixed.partition_key == "broken"
    assert LeadStore().row_count("broken") == 2


def test_two_files_that_would_be_the_same_list_are_both_refused(
    leads_dir: Path, defs: dg.Definitions
) -> None:
    write(leads_dir / "dup.json", ROWS)
    (leads_dir / "dup.csv").write_text("name\nAcme\n")
    result = Sensor(defs).tick()
    assert not result.run_requests
    assert "dup.csv and dup.json would both be lead list 'dup'" in str(result.skip_reason)


def test_a_folder_of_many_new_files_is_worked_through_a_few_per_tick(
    leads_dir: Path, defs: dg.Definitions
) -> None:
    count = MAX_FILES_PER_TICK + 2
    for i in range(count):
        write(leads_dir / f"list-{i}.json", ROWS)
    sensor = Sensor(defs)
    first = sensor.tick().run_requests or []
    second = sensor.tick().run_requests or []
    assert len(first) == MAX_FILES_PER_TICK and len(second) == 2
    assert {r.partition_key for r in first + second} == {f"list-{i}" for i in range(count)}


def test_with_a_search_key_the_sensor_runs_the_whole_chain(
    leads_dir: Path, defs: dg.Definitions, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SERPER_API_KEY", "serper-test-key-123456")
    monkeypatch.setenv("HUNTER_API_KEY", "hunter-test-key-123456")  # founder_email's finder
    write(leads_dir / "full.json", ROWS)
    [request] = Sensor(defs).tick().run_requests or []
    assert request.asset_selection == [B2B, FOUNDERS, dg.AssetKey("founder_email")]
    assert SKIPPED_TAG not in request.tags


def test_a_missing_folder_is_a_skip_that_names_it(
    tmp_path: Path, defs: dg.Definitions, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEAD_PIPELINE_LEADS_DIR", str(tmp_path / "nowhere"))
    result = Sensor(defs).tick()
    assert not result.run_requests and str(tmp_path / "nowhere") in str(result.skip_reason)


# ---- the daily schedule ----------------------------------------------------


def test_the_schedule_requests_one_run_per_lead_list(defs: dg.Definitions) -> None:
    store = LeadStore()
    dagster_instance = instance()
    for name in ("alpha", "beta"):
        store.import_rows(name, [(f"{name}-{i}", row) for i, row in enumerate(ROWS)])
        register_lead_list(name, dagster_instance)
    register_lead_list("gone", dagster_instance)  # a partition whose list is not in the store

    schedule = defs.resolve_schedule_def(SCHEDULE_NAME)
    context = dg.build_schedule_context(
        instance=dagster_instance,
        scheduled_execution_time=datetime(2026, 1, 5, 3, tzinfo=UTC),
        resources={"store": LeadStoreResource()},
    )
    requests = list(schedule(context))
    assert [r.partition_key for r in requests] == ["alpha", "beta"]
    for request in requests:
        assert isinstance(request, dg.RunRequest)
        assert request.asset_selection == [B2B]
        assert request.tags[SOURCE_TAG] == "schedule"
        # Default options: only missing, failed or stale rows are processed.
        assert not request.run_config
    assert schedule.cron_schedule == "0 3 * * *"


def test_the_schedule_skips_when_there_are_no_lead_lists(defs: dg.Definitions) -> None:
    schedule = defs.resolve_schedule_def(SCHEDULE_NAME)
    context = dg.build_schedule_context(
        instance=instance(), resources={"store": LeadStoreResource()}
    )
    [skip] = list(schedule(context))
    assert isinstance(skip, dg.SkipReason) and "no lead lists" in str(skip.skip_message)


def test_sensor_and_schedule_ship_stopped(defs: dg.Definitions) -> None:
    assert defs.resolve_sensor_def(SENSOR_NAME).default_status == dg.DefaultSensorStatus.STOPPED
    schedule = defs.resolve_schedule_def(SCHEDULE_NAME)
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    assert schedule.job_name == CHAIN_JOB
