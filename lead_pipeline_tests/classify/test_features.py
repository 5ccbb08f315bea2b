"""The shared tokenizer and TF-IDF weighting that training and inference both call."""

from __future__ import annotations

import math

from lead_pipeline.classify.features import lead_terms, tokenize, website_tld, weigh


def test_tokenize_lowercases_and_splits_on_non_alphanumerics() -> None:
    assert tokenize("B2B SaaS, for Teams! (v2.0)") == ["b2b", "saas", "for", "teams", "v2", "0"]
    assert tokenize("") == []


def test_lead_terms_reads_only_lead_list_fields() -> None:
    lead = {"name": "Acme", "one_liner": "Payroll for teams", "website": "https://acme.io"}
    labelled = {**lead, "industry": "B2B", "tags": ["SaaS"], "subindustry": "B2B -> HR"}
    assert lead_terms(labelled) == lead_terms(lead)
    assert lead_terms(lead) == {
        "acme": 1,
        "payroll": 1,
        "for": 1,
        "teams": 1,
        "payroll for": 1,
        "for teams": 1,
        "tld:io": 1,
    }


def test_bigrams_stay_inside_one_field_and_can_be_turned_off() -> None:
    terms = lead_terms({"name": "Acme Labs", "one_liner": "robots"})
    assert "labs robots" not in terms
    assert "acme labs" in terms
    assert lead_terms({"name": "Acme Labs"}, bigrams=False) == {"acme": 1, "labs": 1}


def test_missing_nan_and_non_text_fields_are_empty_not_errors() -> None:
    assert lead_terms({}) == {}
    assert lead_terms({"name": None, "one_liner": math.nan, "website": None}) == {}
    assert lead_terms({"name": 42}) == {"42": 1}


def test_website_tld() -> None:
    assert website_tld("https://www.acme.ai/pricing?x=1") == "ai"
    assert website_tld("acme.io") == "io"
    assert website_tld("HTTP://Shop.Example.CO.UK") == "uk"
    assert website_tld("") is None
    assert website_tld(None) is None
    assert website_tld("http://127.0.0.1:8000") is None
    assert website_tld("localhost") is None
    assert website_tld("http://[::1") is None  # malformed: no error, no feature


def test_weigh_drops_unknown_terms_and_normalises() -> None:
    idf = {"api": 2.0, "teams": 1.0}
    weights = weigh({"api": 1, "teams": 1, "unknown": 5}, idf)
    assert set(weights) == {"api", "teams"}
    assert math.isclose(sum(w * w for w in weights.values()), 1.0)
    assert math.isclose(weights["api"] / weights["teams"], 2.0)
    assert weigh({"unknown": 3}, idf) == {}


def test_weigh_term_frequency_is_sublinear_by_default() -> None:
    idf = {"a": 1.0, "b": 1.0}
    sub = weigh({"a": 3, "b": 1}, idf)
    raw = weigh({"a": 3, "b": 1}, idf, sublinear_tf=False)
    assert math.isclose(sub["a"] / sub["b"], 1.0 + math.log(3))
    assert math.isclose(raw["a"] / raw["b"], 3.0)
