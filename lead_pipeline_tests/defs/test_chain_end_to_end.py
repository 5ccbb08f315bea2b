"""Both built-in workflows over YC Fall 2025, through Dagster, against stand-in providers.

The chain runs as a user runs it: ``lead-pipeline enrich`` in a subprocess, the
multiprocess executor, a persistent Dagster instance in the test's folder, and
OpenAI and Serper stand-ins on 127.0.0.1 speaking their wire protocols.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from lead_pipeline.classify import classify
from lead_pipeline.founders import canonical_profile_url
from lead_pipeline.store import LeadStore
from lead_pipeline_tests.servers import OpenAIServer, SerperServer

pytestmark = pytest.mark.slow(minutes=1)
THRESHOLD = 0.8


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lead_pipeline.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def founder_results(query: str, num: int) -> list[dict[str, str]]:
    """LinkedIn-shaped results: the real founder, a namesake elsewhere, a post, a company page."""
    name = re.search(r'"([^"]+)"', query).group(1)  # type: ignore[union-attr]
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return [
        {
            "title": f"Alex Rivera - Co-founder & CEO - {name} | LinkedIn",
            "url": f"https://uk.linkedin.com/in/alex-{slug}/?trk=public_profile",
            "snippet": f"Co-founder at {name} · Experience: {name}",
        },
        {
            "title": f"Sam Namesake - Founder - {name} Holdings Group | LinkedIn",
            "url": f"https://www.linkedin.com/in/sam-{slug}",
            "snippet": f"Founder at {name} Holdings Group",
        },
        {
            "title": f"Alex Rivera on LinkedIn: we launched {name}!",
            "url": f"https://www.linkedin.com/posts/alex-{slug}_launch",
            "snippet": "post",
        },
        {
            "title": f"{name} | LinkedIn",
            "url": f"https://www.linkedin.com/company/{slug}",
            "snippet": "company page",
        },
    ][:num]


@pytest.fixture
def sample(yc_f25_path: Path, tmp_path: Path) -> Path:
    rows = json.loads(yc_f25_path.read_text())
    path = tmp_path / "yc-f25.json"
    path.write_text(json.dumps(rows))
    return path


def materialization(instance: dg.DagsterInstance, asset: str) -> dict[str, object]:
    event = instance.get_latest_materialization_event(dg.AssetKey(asset))
    assert event is not None and event.asset_materialization is not None
    assert event.asset_materialization.partition == "yc-f25"
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


def test_offline_chain_then_full_chain_then_cached_rerun(sample: Path, tmp_path: Path) -> None:
    rows = json.loads(sample.read_text())
    imported = cli("import", str(sample), "--lead", "yc-f25")
    assert imported.returncode == 0, imported.stderr

    # 1. No keys: b2b_only runs offline, founder_linkedin is left out with the variables to set.
    offline = cli("enrich", "--lead", "yc-f25", "--workflow", "all")
    assert offline.returncode == 0, offline.stderr + offline.stdout
    assert "skipped founder_linkedin" in offline.stdout
    assert "SERPER_API_KEY" in offline.stdout
    store = LeadStore()
    frame = store.wide_frame("yc-f25").set_index("_id")
    # What the workflow reads of each row: the canonical fields as the import stored them.
    seen = store.row_values("yc-f25")
    offline = {row_id: classify(values) for row_id, values in seen.items()}
    answered = {row_id for row_id, p in offline.items() if p.evidence}
    # Rows with neither a one-liner nor a description (three in this batch) get no
    # answer at all, never a guess: they are skipped with "missing input".
    assert 0 < len(rows) - len(answered) < 10
    assert frame["is_b2b"].notna().sum() == len(answered)
    assert frame.loc[sorted(set(seen) - answered), "is_b2b"].isna().all()
    expected_b2b = sum(offline[row_id].is_b2b for row_id in answered)
    assert int(frame["is_b2b"].sum()) == expected_b2b

    # 2. With an LLM and a search provider: unsure rows go to the LLM, B2B rows get founders.
    # Unsure: an offline answer below the threshold, or text the model has no word for.
    def has_text(values: dict[str, object]) -> bool:
        return any(str(values.get(f) or "").strip() for f in ("description", "one_liner"))

    unsure = sum(
        (p.evidence and p.confidence < THRESHOLD) or (not p.evidence and has_text(seen[row_id]))
        for row_id, p in offline.items()
    )
    with OpenAIServer() as llm, SerperServer(results=founder_results) as serper:
        env = {**llm.env(), **serper.env()}
        full = cli("enrich", "--lead", "yc-f25", "--workflow", "all", "--parallel", "8", env=env)
        assert full.returncode == 0, full.stderr + full.stdout
        frame = store.wide_frame("yc-f25").set_index("_id")
        b2b_rows = int(frame["is_b2b"].sum())
        asked = [json.dumps(r.json) for r in llm.requests]
        assert sum('"is_b2b"' in body for body in asked) == unsure
        assert sum('"founders"' in body for body in asked) == b2b_rows  # the gated LLM pass
        assert serper.count("/search") == b2b_rows
        with_founders = frame[frame["is_b2b"] == True]  # noqa: E712
        for founders in with_founders["founders"]:
            assert len(founders) == 1, founders  # the namesake, post and company page refused
            url = founders[0]["linkedin_url"]
            assert url == canonical_profile_url(url) and url.startswith(
                "https://www.linkedin.com/in/alex-"
            )
        assert (frame[frame["is_b2b"] == False]["founders"].isna()).all()  # noqa: E712

        instance = dg.DagsterInstance.get()
        b2b_meta = materialization(instance, "b2b_only")
        founders_meta = materialization(instance, "founder_linkedin")
        assert b2b_meta["ok"] == unsure and b2b_meta["failed"] == 0
        assert founders_meta["ok"] == b2b_rows
        assert founders_meta["skipped"] == len(rows) - b2b_rows
        assert "linkedin.com/in/alex-" in str(founders_meta["preview"])

        # 3. A re-run pays for nothing: every row is up to date.
        llm.reset()
        serper.reset()
        again = cli("enrich", "--lead", "yc-f25", "--workflow", "all", env=env)
        assert again.returncode == 0, again.stderr
        assert llm.count() == 0 and serper.count() == 0
        assert "0 ok, 0 failed" in again.stdout

        # 4. --force re-runs the rows, and the response cache answers: still no calls.
        forced = cli(
            "enrich", "--lead", "yc-f25", "--workflow", "founder_linkedin", "--force", env=env
        )
        assert forced.returncode == 0, forced.stderr
        assert serper.count() == 0


def test_a_named_workflow_without_its_provider_fails_with_one_clear_message(sample: Path) -> None:
    assert cli("import", str(sample), "--lead", "yc-f25").returncode == 0
    result = cli("enrich", "--lead", "yc-f25", "--workflow", "founder_linkedin")
    assert result.returncode == 2
    assert "SERPER_API_KEY" in result.stderr and "Traceback" not in result.stderr
