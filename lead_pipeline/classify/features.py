"""Turning a lead's text into weighted features: the one tokenizer training and inference share.

The training script and the shipped classifier both call these functions, so a
feature the model learned is spelled exactly the way inference looks it up; a
second copy of the tokenizer would drift silently and cost accuracy without an
error. Everything here is the standard library (and the shared domain module), so inference
stays light.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping
from itertools import pairwise
from typing import Any

from lead_pipeline.domains import top_level_domain

# Only what an ordinary lead list carries, under the canonical lead field names
# (YC's ``long_description`` is imported as ``description``); YC's own labels
# are never read here.
TEXT_FIELDS: tuple[str, ...] = ("name", "one_liner", "description")
# The fields that can carry evidence of what a company sells. A name or a domain
# ending alone is not evidence: "Acme" on a .ai domain says nothing about buyers.
EVIDENCE_FIELDS: tuple[str, ...] = ("one_liner", "description")
WEBSITE_FIELD = "website"

_TOKEN = re.compile(r"[a-z0-9]+")
_TLD_PREFIX = "tld:"


def tokenize(text: str) -> list[str]:
    """Lowercase alphanumeric runs: crude, but identical wherever it runs."""
    return _TOKEN.findall(text.lower())


def _field_text(value: Any) -> str:
    """A field's text; missing, NaN and non-string values count as empty, never as an error."""
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    return value if isinstance(value, str) else str(value)


def website_tld(website: Any) -> str | None:
    """The top-level domain of a website (``ai``, ``io``, ``com``), a weak but real signal."""
    return top_level_domain(_field_text(website).strip())


def lead_terms(fields: Mapping[str, Any], bigrams: bool = True, tld: bool = True) -> Counter[str]:
    """Counts of every candidate feature of one lead: unigrams, bigrams and the website's TLD.

    Bigrams do not cross field boundaries, so a name's last word never pairs with
    the one-liner's first.
    """
    terms: Counter[str] = Counter()
    for name in TEXT_FIELDS:
        tokens = tokenize(_field_text(fields.get(name)))
        terms.update(tokens)
        if bigrams:
            terms.update(f"{a} {b}" for a, b in pairwise(tokens))
    ending = website_tld(fields.get(WEBSITE_FIELD)) if tld else None
    if ending:
        terms[_TLD_PREFIX + ending] += 1
    return terms


def evidence_terms(fields: Mapping[str, Any], bigrams: bool = True) -> Counter[str]:
    """The candidate features of the fields that can carry evidence (one-liner, description)."""
    return lead_terms({name: fields.get(name) for name in EVIDENCE_FIELDS}, bigrams, tld=False)


def weigh(
    terms: Mapping[str, int], idf: Mapping[str, float], sublinear_tf: bool = True
) -> dict[str, float]:
    """TF-IDF weights of the in-vocabulary terms, L2-normalised; empty when none is known.

    Normalising over known terms only matches scikit-learn's TfidfVectorizer, and
    means a long description does not outweigh a short one.
    """
    weights: dict[str, float] = {}
    for term, count in terms.items():
        term_idf = idf.get(term)
        if term_idf is None or count <= 0:
            continue
        tf = 1.0 + math.log(count) if sublinear_tf else float(count)
        weights[term] = tf * term_idf
    norm = math.sqrt(sum(w * w for w in weights.values()))
    if norm > 0.0:
        for term in weights:
            weights[term] /= norm
    return weights
