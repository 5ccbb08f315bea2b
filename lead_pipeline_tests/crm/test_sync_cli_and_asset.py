"""``lead-pipeline sync hubspot`` and the ``hubspot_sync`` asset, against the HubSpot stand-in."""

from __future__ import annotations

import json
from collections.abc import Iterator

import dagster as dg
import pytest

from lead_pipeline.cli import main
from lead_pipeline.crm.hubspot import HUBSPOT
from lead_pipeline.store import LeadStore
from lead_pipeline_tests.crm.test_hubspot_sync import ROWS
from lead_pipeline_tests.servers import HubSpotServer, Reply


@pytest.fixture
def hubspot(monkeypatch: pytest.MonkeyPatch) -> Iterator[HubSpotServer]:
    with HubSpotServer() as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        yield server


@pytest.fixture
def listed() -> LeadStore:
    store = LeadStore()
    store.import_rows("demo", list(ROWS.items()))
    return store


def test_dry_run_prints_the_requests_and_sends_nothing(
    capsys: pytest.CaptureFixture[str], hubspot: HubSpotServer, listed: LeadStore
) -> None:
    code = main(["sync", "hubspot", "--lead", "demo", "--dry-run"])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert "POST /crm/v3/objects/companies/batch/create" in out
    assert '"domain": "acme.com"' in out and '"idProperty": "email"' in out
    assert "would send 2 companies (0 unchanged) and 3 contacts (0 unchanged)" in out
    assert hubspot.requests == [] and listed.crm_state("demo", HUBSPOT) == {}


def test_sync_then_resync_from_the_command_line(
    capsys: pytest.CaptureFixture[str], hubspot: HubSpotServer, listed: LeadStore
) -> None:
    assert main(["sync", "hubspot", "--lead", "demo"]) == 0
    out = capsys.readouterr().out
    assert "companies 2 created, 0 updated, 0 failed" in out
    assert main(["sync", "hubspot", "--lead", "demo"]) == 0
    assert "sent 0 companies (2 unchanged) and 0 contacts (3 unchanged)" in capsys.readouterr().out


def test_a_refused_record_exits_1_naming_it(
    capsys: pytest.CaptureFixture[str], hubspot: HubSpotServer, listed: LeadStore
) -> None:
    hubspot.reject = {"bob@acme.com": "Property values were not valid: email"}
    assert main(["sync", "hubspot", "--lead", "demo"]) == 1
    out = capsys.readouterr().out
    assert "contact bob@acme.com: VALIDATION_ERROR: Property values were not valid" in out


def test_without_a_token_the_command_names_the_variable(
    capsys: pytest.CaptureFixture[str], listed: LeadStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HUBSPOT_ACCESS_TOKEN", raising=False)
    assert main(["sync", "hubspot", "--lead", "demo"]) == 2
    assert "set HUBSPOT_ACCESS_TOKEN" in capsys.readouterr().err


def test_the_asset_syncs_its_partition(hubspot: HubSpotServer, listed: LeadStore) -> None:
    from lead_pipeline.defs.definitions import definitions
    from lead_pipeline.defs.partitions import instance, register_lead_list

    defs = definitions()
    dagster_instance = instance()
    register_lead_list("demo", dagster_instance)
    asset = defs.get_assets_def("hubspot_sync")
    assert dg.AssetKey("founder_email") in asset.dependency_keys
    result = dg.materialize(
        [asset],
        partition_key="demo",
        instance=dagster_instance,
        resources={"store": defs.resources["store"]},
    )
    assert result.success
    (event,) = result.asset_materializations_for_node("hubspot_sync")
    assert event.metadata["companies_created"].value == 2
    assert event.metadata["associations"].value == 3
    assert set(hubspot.objects["companies"]) == {"acme.com", "globex.io"}
    assert json.dumps(sorted(listed.crm_state("demo", HUBSPOT)))


def test_the_asset_s_own_session_follows_the_retry_and_timeout_settings(
    hubspot: HubSpotServer, listed: LeadStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sync opens its own session: the settings, not the defaults, say how often it
    asks and how long it waits. Unconfigured (four attempts, 60 s), the slow second
    answer and the two after it would be waited for and the companies would sync."""
    from lead_pipeline.defs.definitions import definitions
    from lead_pipeline.defs.partitions import instance, register_lead_list

    monkeypatch.setenv("LEAD_PIPELINE_RETRY", '{"max_attempts": 2, "base_delay": 0.01}')
    monkeypatch.setenv("LEAD_PIPELINE_TIMEOUTS", '{"total": 0.5, "read": 0.5}')
    hubspot.script(Reply(status=500, json={"message": "down"}), Reply(status=500, delay=3.0))
    defs = definitions()
    dagster_instance = instance()
    register_lead_list("demo", dagster_instance)
    result = dg.materialize(
        [defs.get_assets_def("hubspot_sync")],
        partition_key="demo",
        instance=dagster_instance,
        resources={"store": defs.resources["store"]},
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert "company acme.com: " in str(failure.step_failure_data.error)
    assert "timed out (attempt 2 of 2)" in str(failure.step_failure_data.error)
    # The lookup before sending gave up after two attempts; unchecked, nothing is created.
    assert hubspot.count("/crm/v3/objects/companies/search") == 2
    assert hubspot.count("/crm/v3/objects/companies/batch/create") == 0
