"""Train the offline B2B classifier on the public YC directory and write its JSON artifact.

    python -m lead_pipeline.classify.train --data ../shared/data/yc \
        --out lead_pipeline/classify/b2b_model.json

The reference label is YC's primary industry (``industry == "B2B"``); the inputs
are only what a lead list carries (name, website, one-liner, long description).
The newest batches are held out of training altogether, so the accuracy printed
for them says how the model does on companies it has never seen, from a later
time than anything it learned from. Options are chosen by cross-validation
grouped by batch on the training batches only; the held-out batches are scored
once, with the pure-Python inference path that ships, after the choice is made.

Training needs scikit-learn and scipy (the ``dev`` extra); inference does not.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any

from lead_pipeline.classify.features import lead_terms, weigh
from lead_pipeline.classify.model import ARTIFACT_FORMAT, B2BModel
from lead_pipeline.leads.errors import LeadFileError
from lead_pipeline.leads.opener import read_lead_bytes

DEFAULT_HOLDOUT = ("fall-2025", "summer-2025", "spring-2025", "winter-2025", "fall-2024")
LABEL_FIELD = "industry"
LABEL_VALUE = "B2B"
MIN_DF = 2
GRID_BIGRAMS = (False, True)
GRID_VOCABULARY = (5000, 20000)
GRID_C = (1.0, 2.0, 4.0, 8.0)
CV_FOLDS = 5
DECIMALS = 6
THRESHOLDS = (0.6, 0.7, 0.8, 0.9)


@dataclass(frozen=True)
class Company:
    batch: str
    fields: dict[str, Any]
    label: bool


@dataclass(frozen=True)
class Options:
    bigrams: bool
    vocabulary: int
    C: float

    def describe(self) -> str:
        grams = "1-2grams" if self.bigrams else "1grams  "
        return f"{grams} vocab<={self.vocabulary:<6d} C={self.C:<4g}"


@dataclass(frozen=True)
class Scores:
    rows: int
    accuracy: float
    confident_half_accuracy: float
    majority_baseline: float

    def as_dict(self) -> dict[str, float | int]:
        return {
            "rows": self.rows,
            "accuracy": round(self.accuracy, 4),
            "confident_half_accuracy": round(self.confident_half_accuracy, 4),
            "majority_baseline": round(self.majority_baseline, 4),
        }


def load_companies(data_dir: Path) -> list[Company]:
    """Every company of every ``<batch>.json`` file; a malformed record names file, index, field."""
    files = sorted(data_dir.glob("*.json"))
    if not files:
        raise ValueError(f"{data_dir}: no <batch>.json files found")
    companies: list[Company] = []
    for path in files:
        try:
            records = json.loads(read_lead_bytes(path, line_based=False).decode("utf-8"))
        except LeadFileError as exc:
            raise ValueError(str(exc)) from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: cannot read JSON: {exc}") from None
        if not isinstance(records, list):
            raise ValueError(f"{path}: expected a JSON array of companies")
        for index, record in enumerate(records):
            if not isinstance(record, dict):
                raise ValueError(f"{path}: record {index}: expected an object")
            label = record.get(LABEL_FIELD)
            if label is not None and not isinstance(label, str):
                raise ValueError(f"{path}: record {index}: field {LABEL_FIELD!r} must be text")
            # YC's long_description is the canonical description field, as at import.
            fields = {k: record.get(k) for k in ("name", "website", "one_liner")}
            fields["description"] = record.get("long_description")
            companies.append(Company(path.stem, fields, label == LABEL_VALUE))
    return companies


def score_predictions(labels: Sequence[bool], probabilities: Sequence[float]) -> Scores:
    """Accuracy overall and on the most confident half (ties broken by input order)."""
    n = len(labels)
    if n == 0:
        raise ValueError("cannot score an empty set")
    correct = [(p > 0.5) == y for y, p in zip(labels, probabilities, strict=True)]
    order = sorted(range(n), key=lambda i: -max(probabilities[i], 1 - probabilities[i]))
    half = order[: max(1, n // 2)]
    positives = sum(labels)
    return Scores(
        rows=n,
        accuracy=sum(correct) / n,
        confident_half_accuracy=sum(correct[i] for i in half) / len(half),
        majority_baseline=max(positives, n - positives) / n,
    )


def by_threshold(
    labels: Sequence[bool], probabilities: Sequence[float], thresholds: Sequence[float]
) -> dict[str, dict[str, float | None]]:
    """Share of rows at or above each confidence, and their accuracy: what stays offline."""
    table: dict[str, dict[str, float | None]] = {}
    for threshold in thresholds:
        kept = [
            (p > 0.5) == y
            for y, p in zip(labels, probabilities, strict=True)
            if max(p, 1 - p) >= threshold
        ]
        table[f"{threshold:g}"] = {
            "coverage": round(len(kept) / len(labels), 4),
            "accuracy": round(sum(kept) / len(kept), 4) if kept else None,
        }
    return table


def build_vocabulary(
    docs: Sequence[Counter[str]], size: int, min_df: int = MIN_DF
) -> dict[str, float]:
    """The ``size`` terms in most documents (at least ``min_df``), with smoothed idf."""
    df: Counter[str] = Counter()
    for terms in docs:
        df.update(terms.keys())
    ranked = sorted((t for t, c in df.items() if c >= min_df), key=lambda t: (-df[t], t))
    n = len(docs)
    return {t: math.log((1 + n) / (1 + df[t])) + 1.0 for t in ranked[:size]}


def vectorize(docs: Sequence[Counter[str]], idf: Mapping[str, float]) -> Any:
    """A CSR matrix whose rows are exactly what inference computes (``features.weigh``)."""
    # scipy (0.8 s of CPU) and scikit-learn (4.3 s, the dev extra only) are imported by
    # the steps that use them, so the script's argument errors and --help come at once.
    from scipy.sparse import csr_matrix

    column = {t: i for i, t in enumerate(idf)}
    data: list[float] = []
    indices: list[int] = []
    indptr = [0]
    for terms in docs:
        for term, weight in weigh(terms, idf).items():
            indices.append(column[term])
            data.append(weight)
        indptr.append(len(indices))
    return csr_matrix((data, indices, indptr), shape=(len(docs), len(idf)))


def fit(docs: Sequence[Counter[str]], labels: Sequence[bool], options: Options) -> dict[str, Any]:
    """Fit on ``docs`` and return the artifact (without metrics)."""
    from sklearn.linear_model import LogisticRegression

    idf = build_vocabulary(docs, options.vocabulary)
    model = LogisticRegression(C=options.C, max_iter=5000)
    model.fit(vectorize(docs, idf), [int(y) for y in labels])
    features = {
        term: [round(term_idf, DECIMALS), round(float(weight), DECIMALS)]
        for (term, term_idf), weight in zip(idf.items(), model.coef_[0], strict=True)
    }
    return {
        "format": ARTIFACT_FORMAT,
        "label": f"YC {LABEL_FIELD} == {LABEL_VALUE!r}",
        "features_config": {"bigrams": options.bigrams, "sublinear_tf": True, "min_df": MIN_DF},
        "training_config": {"C": options.C, "vocabulary": options.vocabulary},
        "intercept": round(float(model.intercept_[0]), DECIMALS),
        "features": features,
    }


def predict(artifact: Mapping[str, Any], companies: Sequence[Company]) -> list[float]:
    """Probabilities from the shipped pure-Python inference, not scikit-learn's."""
    model = B2BModel(artifact)
    return [model.classify(c.fields).probability for c in companies]


def cross_validate(companies: Sequence[Company], options: Options, folds: int = CV_FOLDS) -> Scores:
    """Pooled out-of-fold scores, with whole batches as folds so no batch is in both halves."""
    from sklearn.model_selection import GroupKFold

    docs = [lead_terms(c.fields, bigrams=options.bigrams) for c in companies]
    labels = [c.label for c in companies]
    groups = [c.batch for c in companies]
    probabilities = [0.0] * len(companies)
    for train_idx, test_idx in GroupKFold(n_splits=folds).split(docs, labels, groups):
        artifact = fit([docs[i] for i in train_idx], [labels[i] for i in train_idx], options)
        for i, p in zip(test_idx, predict(artifact, [companies[i] for i in test_idx]), strict=True):
            probabilities[i] = p
    return score_predictions(labels, probabilities)


def _print_scores(title: str, scores: Scores) -> None:
    print(
        f"{title}: rows={scores.rows} accuracy={scores.accuracy:.4f} "
        f"confident-half={scores.confident_half_accuracy:.4f} "
        f"majority-baseline={scores.majority_baseline:.4f}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/yc"))
    parser.add_argument("--out", type=Path, default=Path("lead_pipeline/classify/b2b_model.json"))
    parser.add_argument(
        "--holdout",
        default=",".join(DEFAULT_HOLDOUT),
        help="comma-separated batches never trained on (missing ones are ignored)",
    )
    args = parser.parse_args(argv)

    companies = load_companies(args.data)
    wanted = [b.strip() for b in args.holdout.split(",") if b.strip()]
    present = {c.batch for c in companies}
    held_batches = sorted(b for b in wanted if b in present)
    if not held_batches:
        parser.error(f"none of the held-out batches {wanted} is in {args.data}")
    train = [c for c in companies if c.batch not in held_batches]
    held = [c for c in companies if c.batch in held_batches]
    print(f"training batches: {len(present) - len(held_batches)} ({len(train)} companies)")
    print(f"held-out batches: {', '.join(held_batches)} ({len(held)} companies)")

    print(f"\n{CV_FOLDS}-fold cross-validation grouped by batch, training batches only:")
    results: list[tuple[Options, Scores]] = []
    for bigrams, vocabulary, c in product(GRID_BIGRAMS, GRID_VOCABULARY, GRID_C):
        options = Options(bigrams, vocabulary, c)
        scores = cross_validate(train, options)
        results.append((options, scores))
        _print_scores(f"  {options.describe()}", scores)
    # Best accuracy; among equals, the smaller and more regularised (simpler) model.
    best, best_cv = max(results, key=lambda r: (round(r[1].accuracy, 4), -r[0].vocabulary, -r[0].C))
    print(f"chosen: {best.describe().strip()} (cv accuracy {best_cv.accuracy:.4f})")

    docs = [lead_terms(c.fields, bigrams=best.bigrams) for c in train]
    artifact = fit(docs, [c.label for c in train], best)
    held_probabilities = predict(artifact, held)
    held_scores = score_predictions([c.label for c in held], held_probabilities)
    thresholds = by_threshold([c.label for c in held], held_probabilities, THRESHOLDS)
    per_batch = {
        batch: score_predictions(
            [c.label for c in held if c.batch == batch],
            predict(artifact, [c for c in held if c.batch == batch]),
        )
        for batch in held_batches
    }
    print("\nheld-out batches, scored with the shipped pure-Python inference:")
    for batch, scores in per_batch.items():
        _print_scores(f"  {batch}", scores)
    _print_scores("  all held-out", held_scores)
    print("  rows kept offline at a confidence threshold (the rest would go to the LLM):")
    for threshold, row in thresholds.items():
        accuracy = "n/a" if row["accuracy"] is None else f"{row['accuracy']:.4f}"
        print(f"    >= {threshold}: {row['coverage']:.1%} of rows, accuracy {accuracy}")

    artifact["training"] = {
        "data": "yc-oss public YC directory, one file per batch",
        "trained_batches": sorted(present - set(held_batches)),
        "trained_rows": len(train),
        "held_out_batches": held_batches,
        "cross_validation": best_cv.as_dict(),
        "held_out": held_scores.as_dict(),
        "held_out_per_batch": {b: s.as_dict() for b, s in per_batch.items()},
        "held_out_by_confidence_threshold": thresholds,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render_artifact(artifact), encoding="utf-8")
    size = args.out.stat().st_size / 1024
    print(f"\nwrote {args.out} ({size:.0f} KiB, {len(artifact['features'])} features)")
    return 0


def render_artifact(artifact: Mapping[str, Any]) -> str:
    """JSON with the metadata first and one vocabulary term per line, so retraining diffs well."""
    head = {k: v for k, v in artifact.items() if k != "features"}
    lines = [
        json.dumps(t, ensure_ascii=False) + ":" + json.dumps(v)
        for t, v in artifact["features"].items()
    ]
    body = json.dumps(head, ensure_ascii=False, indent=1)[:-2]
    return body + ',\n "features":{\n' + ",\n".join(lines) + "\n }\n}\n"


if __name__ == "__main__":
    sys.exit(main())
