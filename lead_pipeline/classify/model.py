"""The shipped offline B2B classifier: a logistic regression over TF-IDF features, in pure Python.

Inference needs only the standard library and a small JSON artifact, so the
first stage of ``b2b_only`` runs on any install, without a network or a key,
at tens of thousands of rows per second. ``train.py`` writes the artifact; the
accuracy it measured on held-out YC batches is recorded inside it and in
``docs/classifier.md``.
"""

from __future__ import annotations

import heapq
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from lead_pipeline.classify.features import evidence_terms, lead_terms, weigh

ARTIFACT_FORMAT = "lead_pipeline.b2b_model/1"
DEFAULT_MODEL_PATH = Path(__file__).with_name("b2b_model.json")
REASON_TERMS = 3
_TLD_PREFIX = "tld:"


@dataclass(frozen=True)
class B2BPrediction:
    """One answer: ``confidence`` is confidence in the answer given, i.e. max(p, 1 - p).

    ``evidence`` is False when the one-liner and description hold no word the
    model knows: then the answer is a coin toss (p=0.5) and must not be used.
    """

    is_b2b: bool
    confidence: float
    probability: float
    reason: str
    evidence: bool = True


NO_EVIDENCE = B2BPrediction(
    is_b2b=False,
    confidence=0.5,
    probability=0.5,
    reason="offline model: no known words in the one-liner or description (p=0.50)",
    evidence=False,
)


def _sigmoid(z: float) -> float:
    # Split by sign so neither branch can overflow math.exp.
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def _display(term: str) -> str:
    return f"website .{term[len(_TLD_PREFIX) :]}" if term.startswith(_TLD_PREFIX) else term


class B2BModel:
    """A loaded artifact: vocabulary idf and weights, intercept and feature options."""

    def __init__(self, artifact: Mapping[str, Any], source: str = "<artifact>") -> None:
        def bad(field: str, why: str) -> ValueError:
            return ValueError(f"{source}: field {field!r} {why}")

        if artifact.get("format") != ARTIFACT_FORMAT:
            raise bad("format", f"must be {ARTIFACT_FORMAT!r}, got {artifact.get('format')!r}")
        options = artifact.get("features_config")
        if not isinstance(options, Mapping):
            raise bad("features_config", "must be an object")
        self.bigrams = bool(options.get("bigrams", True))
        self.sublinear_tf = bool(options.get("sublinear_tf", True))
        intercept = artifact.get("intercept")
        if not isinstance(intercept, int | float):
            raise bad("intercept", "must be a number")
        self.intercept = float(intercept)
        features = artifact.get("features")
        if not isinstance(features, Mapping) or not features:
            raise bad("features", "must be a non-empty object of term -> [idf, weight]")
        idf: dict[str, float] = {}
        coef: dict[str, float] = {}
        for term, pair in features.items():
            if (
                not isinstance(pair, list | tuple)
                or len(pair) != 2
                or not all(isinstance(v, int | float) for v in pair)
            ):
                raise bad(f"features[{term!r}]", "must be [idf, weight]")
            idf[term] = float(pair[0])
            coef[term] = float(pair[1])
        self.idf = idf
        self.coef = coef
        self.metadata: dict[str, Any] = {
            k: v for k, v in artifact.items() if k not in ("features", "intercept")
        }

    @classmethod
    def from_path(cls, path: str | Path) -> B2BModel:
        path = Path(path)
        try:
            artifact = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: cannot read the B2B model artifact: {exc}") from exc
        if not isinstance(artifact, Mapping):
            raise ValueError(f"{path}: the B2B model artifact must be a JSON object")
        return cls(artifact, source=str(path))

    def weights(self, fields: Mapping[str, Any]) -> dict[str, float]:
        """The lead's TF-IDF vector over this model's vocabulary (term -> weight)."""
        return weigh(lead_terms(fields, bigrams=self.bigrams), self.idf, self.sublinear_tf)

    def logit(self, weights: Mapping[str, float]) -> float:
        coef = self.coef
        return self.intercept + sum(w * coef[t] for t, w in weights.items())

    def has_evidence(self, fields: Mapping[str, Any]) -> bool:
        """Whether the one-liner or description holds a word the model learned from."""
        return any(term in self.idf for term in evidence_terms(fields, self.bigrams))

    def classify(self, fields: Mapping[str, Any]) -> B2BPrediction:
        if not self.has_evidence(fields):
            # Nothing that says what the company sells: the name's words, the domain
            # ending and the intercept only echo the training set, so the answer is
            # "don't know" (p=0.5), flagged so no caller stores it as an answer.
            return NO_EVIDENCE
        weights = self.weights(fields)
        coef = self.coef
        contributions = [(w * coef[t], t) for t, w in weights.items()]
        p = _sigmoid(self.intercept + sum(c for c, _ in contributions))
        is_b2b = p > 0.5
        sign = 1.0 if is_b2b else -1.0
        strongest = heapq.nsmallest(
            REASON_TERMS, ((-sign * c, t) for c, t in contributions if sign * c > 0)
        )
        top = [_display(t) for _, t in strongest]
        verdict = "suggest B2B" if is_b2b else "suggest not B2B"
        evidence = ", ".join(f"'{t}'" for t in top) if top else "no strong words"
        return B2BPrediction(
            is_b2b=is_b2b,
            confidence=max(p, 1.0 - p),
            probability=p,
            reason=f"offline model: {evidence} {verdict} (p={p:.2f})",
        )

    def classify_many(self, rows: Iterable[Mapping[str, Any]]) -> list[B2BPrediction]:
        return [self.classify(row) for row in rows]


@lru_cache(maxsize=4)
def _load_cached(path: str) -> B2BModel:
    return B2BModel.from_path(path)


@lru_cache(maxsize=1)
def _shipped() -> B2BModel:
    return _load_cached(str(Path(DEFAULT_MODEL_PATH).resolve()))


def load_model(path: str | Path | None = None) -> B2BModel:
    """The model at ``path`` (the shipped artifact by default), parsed once per process.
    The shipped one is asked for once per row: its path is resolved once, not per row."""
    if path is None:
        return _shipped()
    return _load_cached(str(Path(path).resolve()))


def classify(fields: Mapping[str, Any], model: B2BModel | None = None) -> B2BPrediction:
    """Classify one lead from its ``name``, ``website``, ``one_liner`` and ``description``.

    Missing or empty fields are fine; when the one-liner and description hold no
    known word the answer is :data:`NO_EVIDENCE` (``evidence=False``, p=0.5).
    """
    return (model or load_model()).classify(fields)


def classify_many(
    rows: Iterable[Mapping[str, Any]], model: B2BModel | None = None
) -> list[B2BPrediction]:
    return (model or load_model()).classify_many(rows)
