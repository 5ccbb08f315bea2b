"""Failures grouped by cause: folding, counts, examples, and hostile error texts."""

from __future__ import annotations

import time

import pytest

from lead_pipeline.engine.summary import (
    MAX_CAUSES,
    describe_failures,
    fold_error,
    group_failures,
)
from lead_pipeline.store import FailedRow


def failure(row_id: str, error: str, node: str = "lookup", name: str | None = None) -> FailedRow:
    return FailedRow(
        row_id=row_id,
        name=name,
        workflow="scores",
        node=node,
        error=error,
        attempts=1,
        finished_at=None,
    )


@pytest.mark.parametrize(
    ("text", "cause"),
    [
        (
            "HTTP 429 from serper after 3 attempts (request id 7f3a9c2b1e4d)",
            "HTTP 429 from serper after <n> attempts (request id <id>)",
        ),
        (
            "invalid output b2b_confidence: 7 is above the maximum 1",
            "invalid output b2b_confidence: <n> is above the maximum <n>",
        ),
        (
            "GET https://api.example.com/v1/c?domain=acme.com&key=*** failed: HTTP 404",
            "GET <url> failed: HTTP 404",
        ),
        ("no company 'Acme, Inc.' for ada@acme.com", "no company '<text>' for <email>"),
        (
            "row 3f2a1b7c-1111-2222-3333-444455556666 took 1.5e3 ms",
            "row <id> took <n> ms",
        ),
        ("founder extraction needs a non-empty 'name' column", None),
        ("", "no error text"),
    ],
)
def test_fold_keeps_the_cause_and_drops_what_varies(text: str, cause: str | None) -> None:
    assert fold_error(text) == (text if cause is None else cause)


def test_groups_count_rows_per_cause_with_a_few_examples() -> None:
    failures = [
        failure(f"r{i}", f"HTTP 404: no company #{i} (request {i:08x}abcdef{i})", name=f"Co {i}")
        for i in range(40)
    ] + [failure("odd", "invalid output score: 7 is above the maximum 1", node="check")]
    groups, other_causes, other_rows = group_failures(failures)
    assert [(g.node, g.count) for g in groups] == [("lookup", 40), ("check", 1)]
    assert (other_causes, other_rows) == (0, 0)
    assert groups[0].examples == [("r0", "Co 0"), ("r1", "Co 1"), ("r2", "Co 2")]
    assert groups[0].examples_text() == "r0 (Co 0), r1 (Co 1), r2 (Co 2) and 37 more"
    text = describe_failures(groups, other_causes, other_rows)
    assert text.splitlines()[0].startswith("   40 rows  lookup: HTTP 404: no company #<n>")


def test_ten_thousand_distinct_errors_stay_bounded_and_fast() -> None:
    """Hostile: every error text distinct even after folding (random words), plus secrets."""
    import random

    rng = random.Random(7)
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
    failures = [
        failure(f"row{i}", " ".join(rng.choice(words) for _ in range(12)) + f" #{i}")
        for i in range(10_000)
    ]
    started = time.perf_counter()
    groups, other_causes, other_rows = group_failures(failures)
    elapsed = time.perf_counter() - started
    assert len(groups) == MAX_CAUSES
    assert sum(g.count for g in groups) + other_rows == 10_000
    assert len(groups) + other_causes == len({fold_error(f.error) for f in failures})
    text = describe_failures(groups, other_causes, other_rows)
    assert len(text.splitlines()) == MAX_CAUSES + 1
    assert "other cause(s)" in text.splitlines()[-1]
    assert elapsed < 30  # generous: a busy CI machine; locally well under a second


def test_a_secret_in_an_error_text_never_reaches_the_groups(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = "sk-live-9f8e7d6c5b4a39281706"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    failures = [
        failure(f"r{i}", f"HTTP 401: Incorrect API key provided: {key} (attempt {i})")
        for i in range(3)
    ] + [failure(key, "boom", name=f"name {key}")]
    groups, _, _ = group_failures(failures)
    text = describe_failures(groups, 0, 0)
    assert key not in text and key[-8:] not in text
    assert "HTTP 401" in text
    very_long = fold_error("x " * 1000)
    assert len(very_long) <= 300
