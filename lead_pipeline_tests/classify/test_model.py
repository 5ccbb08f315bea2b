"""The shipped artifact and the pure-Python inference the ``b2b_only`` workflow runs first."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lead_pipeline.classify import (
    DEFAULT_MODEL_PATH,
    B2BModel,
    B2BPrediction,
    classify,
    classify_many,
    load_model,
)
from lead_pipeline.classify.model import NO_EVIDENCE

FIELDS = ("name", "website", "one_liner", "description")


@pytest.fixture(scope="module")
def f25_rows(yc_f25_path: Path) -> list[dict[str, object]]:
    companies = json.loads(yc_f25_path.read_text(encoding="utf-8"))
    return [
        {**{k: c.get(k) for k in FIELDS}, "description": c.get("long_description")}
        for c in companies
    ]


def test_shipped_artifact_loads_and_is_compact() -> None:
    assert DEFAULT_MODEL_PATH.stat().st_size < 2 * 1024 * 1024
    model = load_model()
    assert len(model.coef) > 1000
    assert load_model() is model  # parsed once per process
    assert load_model(DEFAULT_MODEL_PATH) is model


def test_predictions_are_deterministic_and_in_range(f25_rows: list[dict[str, object]]) -> None:
    first = classify_many(f25_rows)
    fresh = B2BModel.from_path(DEFAULT_MODEL_PATH)
    assert fresh.classify_many(f25_rows) == first
    assert [classify(row) for row in f25_rows] == first
    for prediction in first:
        assert isinstance(prediction, B2BPrediction)
        assert 0.0 <= prediction.probability <= 1.0
        assert math.isclose(
            prediction.confidence, max(prediction.probability, 1 - prediction.probability)
        )
        assert prediction.is_b2b == (prediction.probability > 0.5)
        assert prediction.reason.startswith("offline model: ")
        assert f"(p={prediction.probability:.2f})" in prediction.reason
    # The batch is mixed, so a model stuck on one answer would fail here.
    assert {p.is_b2b for p in first} == {True, False}


@pytest.mark.parametrize(
    "lead",
    [
        {
            "name": "Pipelane",
            "website": "https://pipelane.io",
            "one_liner": "Sales pipeline analytics for B2B teams",
            "description": "An API and dashboard that helps enterprise sales teams and "
            "revenue operations automate CRM workflows for their customers.",
        },
        {
            "name": "Ledgerly",
            "one_liner": "Security compliance automation for companies",
            "description": "Developers and IT teams use our platform to manage SOC 2 "
            "audits, vendor risk and employee access across their business.",
        },
    ],
)
def test_obviously_b2b_text_is_b2b(lead: dict[str, str]) -> None:
    prediction = classify(lead)
    assert prediction.is_b2b
    assert prediction.confidence > 0.8
    assert "suggest B2B" in prediction.reason


@pytest.mark.parametrize(
    "lead",
    [
        {
            "name": "Crush",
            "website": "https://crush.app",
            "one_liner": "A dating app for college students",
            "description": "Meet friends and find love: swipe, chat and plan dates with "
            "people on your campus, free on iPhone and Android.",
        },
        {
            "name": "Pawsome",
            "one_liner": "Fun mobile games for kids and families",
            "description": "Parents download our games so children can play and learn "
            "at home with their friends.",
        },
    ],
)
def test_obviously_consumer_text_is_not_b2b(lead: dict[str, str]) -> None:
    prediction = classify(lead)
    assert not prediction.is_b2b
    assert prediction.confidence > 0.8
    assert "suggest not B2B" in prediction.reason


def test_reason_names_the_phrases_that_pushed_the_answer() -> None:
    model = load_model()
    prediction = model.classify({"one_liner": "API for sales teams"})
    named = re.findall(r"'([^']+)'", prediction.reason)
    assert 1 <= len(named) <= 3
    assert all(model.coef[term] > 0 for term in named)


@pytest.mark.parametrize(
    "lead",
    [
        {},
        {"name": None, "website": None, "one_liner": None, "description": None},
        {"name": "", "one_liner": "   ", "description": math.nan},
        {"name": "zzqxv", "one_liner": "qqqzzx"},  # only words the model never saw
        # A domain ending and a name are not evidence of who a company sells to.
        {"name": "Payroll Bank Software", "website": "https://acme.ai"},
        {"website": "https://example.com", "long_description": "Enterprise software for banks"},
    ],
)
def test_no_evidence_gives_no_answer(lead: dict[str, object]) -> None:
    prediction = classify(lead)
    assert prediction == NO_EVIDENCE
    assert not prediction.evidence
    assert (prediction.confidence, prediction.probability) == (0.5, 0.5)


def test_non_text_values_do_not_crash() -> None:
    prediction = classify({"name": 12345, "one_liner": ["not", "text"], "website": 3.5})
    assert 0.0 <= prediction.probability <= 1.0


def test_a_broken_artifact_is_one_clear_error(tmp_path: Path) -> None:
    good = json.loads(DEFAULT_MODEL_PATH.read_text(encoding="utf-8"))

    path = tmp_path / "model.json"
    path.write_text(json.dumps({**good, "format": "something/9"}), encoding="utf-8")
    with pytest.raises(ValueError, match=r"model\.json: field 'format'"):
        B2BModel.from_path(path)

    path.write_text(json.dumps({**good, "features": {"api": [1.0]}}), encoding="utf-8")
    with pytest.raises(ValueError, match=r"model\.json: field \"features\['api'\]\""):
        B2BModel.from_path(path)

    path.write_text('{"format": ', encoding="utf-8")
    with pytest.raises(ValueError, match=r"model\.json: cannot read"):
        B2BModel.from_path(path)

    with pytest.raises(ValueError, match=r"missing\.json: cannot read"):
        B2BModel.from_path(tmp_path / "missing.json")


def test_inference_imports_no_scientific_stack() -> None:
    code = (
        "import sys\n"
        "from lead_pipeline.classify import classify\n"
        "assert classify({'one_liner': 'API for sales teams'}).is_b2b\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'sklearn', 'scipy', 'numpy', 'pandas'})\n"
        "print(heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "website", ["https://bankly.com", "https://x.ai", "https://teen.app", None]
)
def test_the_domain_ending_never_decides_against_the_description(website: str | None) -> None:
    # Reported: with the text unread, a .com answered "not B2B" and a .ai "B2B at 0.90".
    banks = classify(
        {"name": "Acme", "website": website, "description": "Enterprise software for banks"}
    )
    dating = classify(
        {"name": "Acme", "website": website, "description": "A dating app for teenagers"}
    )
    assert banks.evidence and banks.is_b2b
    assert dating.evidence and not dating.is_b2b
