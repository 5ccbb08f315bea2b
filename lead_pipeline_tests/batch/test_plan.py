"""``enrich --plan`` and the question before a run price the lane the run takes.

Through the command line in a subprocess, against the OpenAI batch stand-in: the plan's
totals follow ``--lane`` (and an ``llm`` node's ``lane`` in its workflow when the run
does not say), and so does the figure ``enrich`` asks about before it spends, so a cap
between the two lanes' totals lets a batch run go ahead and stops a synchronous one.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from lead_pipeline_tests.batch.conftest import WORKFLOW
from lead_pipeline_tests.batch.test_cli import cli
from lead_pipeline_tests.servers.llm_batch import OpenAIBatchServer

pytestmark = pytest.mark.slow(minutes=1)

ROWS = 5
# The input tokens priced at 0: the ledger reserves a question's worst case (every byte
# sent a token, plus the provider's framing, and max_tokens answered), which with a paid
# input is far above the plan's estimate; with a free input both are max_tokens answered,
# so a cap the plan says fits is one the batch's reservation fits too.
PRICES = {"gpt-4o-mini": [0.0, 0.60]}
TOTAL = re.compile(r"^Total: \$(\d+\.\d+)(?:-\$(\d+\.\d+))?", re.MULTILINE)


def _workflow(lane: str | None = None) -> str:
    text = WORKFLOW.replace("BACKEND", "openai").replace(
        "    backend: openai\n", "    backend: openai\n    max_tokens: 50\n"
    )
    if lane is not None:
        text = text.replace("    max_tokens: 50\n", f"    max_tokens: 50\n    lane: {lane}\n")
    return text


@pytest.fixture
def home(
    tmp_path: Path, _isolated_settings: Path, openai_batches: OpenAIBatchServer
) -> dict[str, str]:
    """A data folder with a 5-row lead list and the workflow (``grade``)."""
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "grade.yaml").write_text(_workflow())
    leads = tmp_path / "demo.json"
    rows = [{"name": f"Company {i}", "product": f"tool {i}"} for i in range(ROWS)]
    leads.write_text(json.dumps(rows))
    env = {
        **openai_batches.env(),
        "LEAD_PIPELINE_WORKFLOWS": str(folder),
        "LEAD_PIPELINE_PRICES": json.dumps(PRICES),
        "COLUMNS": "250",
    }
    done = cli("import", str(leads), "--lead", "demo", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return env


def plan(env: dict[str, str], workflow: str, *more: str) -> tuple[float, float, str]:
    """The plan's total (low, high) and its text."""
    done = cli("enrich", "--lead", "demo", "--workflow", workflow, "--plan", *more, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    found = TOTAL.search(done.stdout)
    assert found, done.stdout
    low = float(found.group(1))
    return low, float(found.group(2) or low), done.stdout


def test_the_plan_totals_follow_the_lane(
    home: dict[str, str], openai_batches: OpenAIBatchServer
) -> None:
    sync_low, sync_high, sync_text = plan(home, "grade")
    batch_low, batch_high, batch_text = plan(home, "grade", "--lane", "batch")
    # 50 answer tokens at $0.60 per million, per row: synchronously 1 to 2 calls (an
    # invalid answer is asked again), in a batch one call at half the price.
    per_row = 50 * 0.60 / 1_000_000
    assert sync_high == pytest.approx(ROWS * 2 * per_row, abs=1e-4)
    assert batch_high == pytest.approx(ROWS * per_row / 2, abs=1e-4)
    assert batch_low == pytest.approx(sync_low / 2, abs=1e-4)
    assert batch_high < sync_high
    assert "this run: batch" in batch_text and "this run: sync" in sync_text
    assert "LLM batches' wait" in batch_text and "LLM batches' wait" not in sync_text
    # Each plan shows both lanes' prices for the node, the same figures either way.
    lanes = re.compile(r"lane sync: (\S+), answered during the run; lane batch: (\S+),")
    assert lanes.findall(sync_text) == lanes.findall(batch_text) != []
    # A node's lane in its workflow is the run's default; --lane overrides it.
    (Path(home["LEAD_PIPELINE_WORKFLOWS"]) / "grade.yaml").write_text(_workflow("batch"))
    assert plan(home, "grade")[:2] == (batch_low, batch_high)
    assert plan(home, "grade", "--lane", "sync")[:2] == (sync_low, sync_high)
    assert openai_batches.count() == 0 and not openai_batches.batches  # nothing called


def test_a_cap_between_the_lanes_totals_stops_only_the_synchronous_run(
    home: dict[str, str], openai_batches: OpenAIBatchServer
) -> None:
    _, batch_high, _ = plan(home, "grade", "--lane", "batch")
    _, sync_high, _ = plan(home, "grade")
    # Asked above a threshold between the batch total and the cap; no terminal to ask on.
    cap = (batch_high + sync_high) / 2
    env = {**home, "LEAD_PIPELINE_CONFIRM_ABOVE_USD": repr((batch_high + cap) / 2)}

    def enrich(*more: str) -> subprocess.CompletedProcess[str]:
        return cli(
            "enrich", "--lead", "demo", "--workflow", "grade", "--max-cost", repr(cap), *more,
            env=env,
        )  # fmt: skip

    refused = enrich("--lane", "sync")
    assert refused.returncode != 0
    assert f"may cost up to ${cap:.2f}" in refused.stdout + refused.stderr
    assert "Not started" in refused.stdout + refused.stderr
    assert openai_batches.count() == 0 and not openai_batches.batches
    for_default = enrich()  # the workflow says nothing: sync
    assert for_default.returncode == refused.returncode
    accepted = enrich("--lane", "batch")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert f"submitted 1 LLM batch(es) holding {ROWS} questions" in accepted.stdout
    (batch_id,) = openai_batches.batches
    assert len(openai_batches.lines(batch_id)) == ROWS
