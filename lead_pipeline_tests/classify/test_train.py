"""The training script: parity with inference, held-out accuracy of the shipped artifact, and a
full training run on a tiny corpus."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from lead_pipeline.classify import B2BModel, load_model, train
from lead_pipeline.classify import features as features_module
from lead_pipeline.classify.features import lead_terms


def test_training_and_inference_share_one_tokenizer() -> None:
    assert train.lead_terms is features_module.lead_terms
    assert train.weigh is features_module.weigh


def test_training_matrix_rows_are_exactly_what_inference_computes(shared_dir: Path) -> None:
    """Feeding the shipped weights through the training-side matrix gives inference's logits."""
    model = load_model()
    companies = [
        c for c in train.load_companies(shared_dir / "data" / "yc") if c.batch == "fall-2025"
    ]
    docs = [lead_terms(c.fields, bigrams=model.bigrams) for c in companies]
    matrix = train.vectorize(docs, model.idf)
    columns = list(model.idf)
    coef = [model.coef[t] for t in columns]
    for row, company in zip(range(matrix.shape[0]), companies, strict=True):
        sparse = matrix.getrow(row)
        as_dict = {columns[j]: v for j, v in zip(sparse.indices, sparse.data, strict=True)}
        inference = model.weights(company.fields)
        assert as_dict.keys() == inference.keys()
        assert all(math.isclose(as_dict[t], inference[t], abs_tol=1e-12) for t in inference)
        training_logit = model.intercept + float(sparse.dot(coef)[0])
        assert math.isclose(training_logit, model.logit(inference), abs_tol=1e-9)


def test_shipped_artifact_beats_the_majority_baseline_on_held_out_batches(
    shared_dir: Path,
) -> None:
    model = load_model()
    record = model.metadata["training"]
    held_batches = set(record["held_out_batches"])
    assert "fall-2025" in held_batches  # the yc-f25 lead list is never trained on
    assert held_batches.isdisjoint(record["trained_batches"])

    held = [c for c in train.load_companies(shared_dir / "data" / "yc") if c.batch in held_batches]
    labels = [c.label for c in held]
    probabilities = [model.classify(c.fields).probability for c in held]
    scores = train.score_predictions(labels, probabilities)

    majority = max(sum(labels), len(labels) - sum(labels)) / len(labels)
    assert scores.majority_baseline == majority
    assert scores.accuracy > majority + 0.1
    assert scores.confident_half_accuracy > scores.accuracy
    # The numbers recorded in the artifact (and quoted in docs) are this artifact's own.
    assert record["held_out"] == scores.as_dict()


def test_score_predictions() -> None:
    scores = train.score_predictions([True, False, True, False], [0.9, 0.1, 0.45, 0.55])
    assert scores.rows == 4
    assert scores.accuracy == 0.5
    assert scores.confident_half_accuracy == 1.0
    assert scores.majority_baseline == 0.5
    with pytest.raises(ValueError):
        train.score_predictions([], [])


def test_by_threshold_counts_only_rows_at_or_above_each_confidence() -> None:
    table = train.by_threshold([True, False, True, False], [0.9, 0.1, 0.45, 0.7], (0.6, 0.95))
    assert table == {
        "0.6": {"coverage": 0.75, "accuracy": round(2 / 3, 4)},
        "0.95": {"coverage": 0.0, "accuracy": None},
    }


def _company(name: str, text: str, b2b: bool) -> dict[str, object]:
    return {
        "name": name,
        "website": f"https://{name.lower()}.{'io' if b2b else 'com'}",
        "one_liner": text,
        "long_description": "",
        "industry": "B2B" if b2b else "Consumer",
        "tags": ["ignored"],
    }


def _write_corpus(folder: Path) -> None:
    b2b = ["API for sales teams", "Payroll software for companies", "Security for enterprises"]
    b2c = ["Dating app for students", "Mobile games for kids", "Recipes for home cooks"]
    for batch in ["winter-2020", "summer-2020", "winter-2021", "summer-2021", "winter-2022"]:
        rows = [_company(f"B{batch}{i}", t, True) for i, t in enumerate(b2b)]
        rows += [_company(f"C{batch}{i}", t, False) for i, t in enumerate(b2c)]
        (folder / f"{batch}.json").write_text(json.dumps(rows), encoding="utf-8")
    held = [_company("Heldb", "API for companies", True), _company("Heldc", "app for kids", False)]
    (folder / "fall-2025.json").write_text(json.dumps(held), encoding="utf-8")


def test_main_trains_and_writes_a_loadable_artifact(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "yc"
    data.mkdir()
    _write_corpus(data)
    out = tmp_path / "model.json"

    assert train.main(["--data", str(data), "--out", str(out), "--holdout", "fall-2025"]) == 0

    printed = capsys.readouterr().out
    assert "cross-validation grouped by batch" in printed
    assert "chosen:" in printed
    artifact = json.loads(out.read_text(encoding="utf-8"))
    assert artifact["training"]["held_out_batches"] == ["fall-2025"]
    assert "fall-2025" not in artifact["training"]["trained_batches"]
    assert artifact["training"]["trained_rows"] == 30
    model = B2BModel.from_path(out)
    assert model.classify({"one_liner": "API for sales teams"}).is_b2b
    assert not model.classify({"one_liner": "Dating app for students"}).is_b2b


def test_main_refuses_a_holdout_that_is_not_in_the_data(tmp_path: Path) -> None:
    data = tmp_path / "yc"
    data.mkdir()
    _write_corpus(data)
    with pytest.raises(SystemExit):
        train.main(["--data", str(data), "--out", str(tmp_path / "m.json"), "--holdout", "x-1"])
    assert not (tmp_path / "m.json").exists()


def test_a_malformed_record_names_file_and_record(tmp_path: Path) -> None:
    (tmp_path / "summer-2020.json").write_text('[{"name": "ok"}, "oops"]', encoding="utf-8")
    with pytest.raises(ValueError, match=r"summer-2020\.json: record 1: expected an object"):
        train.load_companies(tmp_path)
    (tmp_path / "summer-2020.json").write_text('[{"industry": 7}]', encoding="utf-8")
    with pytest.raises(ValueError, match=r"summer-2020\.json: record 0: field 'industry'"):
        train.load_companies(tmp_path)
    with pytest.raises(ValueError, match=r"no <batch>\.json files"):
        train.load_companies(tmp_path / "empty")
