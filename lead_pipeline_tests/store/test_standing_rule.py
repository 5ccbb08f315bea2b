"""Whether a result stands is one rule (``store/standing.py``) with two encodings: the
Python selection checks row by row and the SQL the settled-rows query runs. Both are
evaluated here over the same stored results, generated and hostile (the ``max_age``
boundary to the microsecond, another configuration hash, every status, the notes and
texts that only look like them, no timestamp, a clock in another time zone), on
SQLite and PostgreSQL; the Python side reads the results back as selection does."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import and_, case, select

from lead_pipeline.store import FAILED, OK, SKIPPED, LeadStore, NodeResult
from lead_pipeline.store.schema import node_results
from lead_pipeline.store.standing import (
    CLAUSES,
    NodeRule,
    first_reason,
    skipped_for_where_python,
    skipped_for_where_sql,
    standing_sql,
)

UNCONFIGURED = "skipped: no API key for this provider"
WHERE = "outside where"
NOW = datetime(2026, 3, 1, 12, 0, 0, 500_000, tzinfo=UTC)
AGES = (None, timedelta(days=1), timedelta(seconds=1), timedelta(0), timedelta(microseconds=1))
RULES = [NodeRule(f"n{i}", f"hash{i}", age, UNCONFIGURED, WHERE) for i, age in enumerate(AGES)]
ERRORS = (
    None,
    "",
    UNCONFIGURED,
    UNCONFIGURED.upper(),
    UNCONFIGURED + " ",
    WHERE,
    f"{WHERE}: size > 4",
    WHERE.upper() + ": size > 4",
    "outside_where",  # a LIKE wildcard would take this for the note
    "timeout after 3 attempts",
)


def _finished(rng: random.Random, rule: NodeRule) -> datetime | None:
    """Around the rule's age boundary (to the microsecond), or anywhere, or none."""
    if rng.random() < 0.1:
        return None
    boundary = NOW - (rule.max_age or timedelta(hours=3))
    offset = rng.choice(
        [
            timedelta(0),
            timedelta(microseconds=1),
            -timedelta(microseconds=1),
            timedelta(seconds=1),
            -timedelta(seconds=1),
            timedelta(days=rng.randint(-400, 400)),
        ]
    )
    return boundary + offset


def _cases(count: int, seed: int) -> list[NodeResult]:
    rng = random.Random(seed)
    cases = []
    for i in range(count):
        rule = rng.choice(RULES)
        cases.append(
            NodeResult(
                lead_list="demo",
                row_id=f"r{i}",
                workflow="w",
                node=rule.node,
                node_index=0,
                status=rng.choice((OK, OK, FAILED, SKIPPED, SKIPPED)),
                config_hash=rule.config_hash if rng.random() < 0.7 else "other",
                error=rng.choice(ERRORS),
                started_at=NOW - timedelta(days=500),
                finished_at=_finished(rng, rule),
                duration_s=0.0,
            )
        )
    return cases


def _sql_verdicts(store: LeadStore, now: datetime) -> dict[str, tuple[bool, ...]]:
    """Per row: each clause's SQL, then the standing predicate, then the where skip."""
    nr = node_results.c

    def per_node(make) -> case:
        return case(
            *((and_(nr.node == rule.node, make(rule)), True) for rule in RULES), else_=False
        )

    columns = [per_node(lambda rule, c=clause: c.sql(nr, rule, now)) for clause in CLAUSES]
    columns.append(case((standing_sql(nr, RULES, now), True), else_=False))
    columns.append(case((skipped_for_where_sql(nr, WHERE), True), else_=False))
    query = select(nr.row_id, *columns).where(nr.lead_list == "demo")
    with store.engine.connect() as conn:
        return {row[0]: tuple(bool(v) for v in row[1:]) for row in conn.execute(query)}


def test_both_encodings_of_the_standing_rule_agree_on_every_result(store: LeadStore) -> None:
    cases = _cases(600, seed=22)
    store.import_rows("demo", [(c.row_id, {"name": c.row_id}) for c in cases])
    store.record_results(cases)
    stored = store.results("demo", ["w"])
    rules = {rule.node: rule for rule in RULES}
    # The same instant in another zone: the clock a caller passes need not be UTC.
    for now in (NOW, NOW.astimezone(timezone(timedelta(hours=5, minutes=30)))):
        verdicts = _sql_verdicts(store, now)
        assert len(verdicts) == len(cases)
        for case_ in cases:
            [result] = stored[case_.row_id].values()  # as selection reads it back
            sql = verdicts[case_.row_id]
            for key_now in (False, True):
                rule = rules[result.node]
                rule = NodeRule(
                    rule.node,
                    rule.config_hash,
                    rule.max_age,
                    UNCONFIGURED,
                    WHERE,
                    key_now=lambda k=key_now: k,
                )
                for clause, in_sql in zip(CLAUSES, sql, strict=False):
                    in_python = clause.python(result, rule, now)
                    if clause.exact:
                        assert in_python == in_sql, (clause.reason, result, now)
                    else:  # SQL cannot ask for a key: it must say "may be stale" at least
                        assert in_sql or not in_python, (clause.reason, result)
                # Standing in SQL: no clause holds in Python, whether the key is set or not.
                if sql[len(CLAUSES)]:
                    assert first_reason(CLAUSES, result, rule, now) is None, (result, now)
            python_standing = all(
                not c.python(result, rules[result.node], now) for c in CLAUSES if c.exact
            ) and not (result.status == SKIPPED and result.error == UNCONFIGURED)
            assert sql[len(CLAUSES)] == python_standing, (result, now)
            assert sql[-1] == skipped_for_where_python(result, WHERE), result


def test_the_age_boundary_itself_stands_in_both(store: LeadStore) -> None:
    """Exactly ``max_age`` old stands; a microsecond older does not (both encodings)."""
    rule = RULES[1]
    assert rule.max_age is not None
    edges = {
        "at": NOW - rule.max_age,
        "older": NOW - rule.max_age - timedelta(microseconds=1),
        "younger": NOW - rule.max_age + timedelta(microseconds=1),
    }
    rows = [
        NodeResult(
            lead_list="demo",
            row_id=name,
            workflow="w",
            node=rule.node,
            node_index=0,
            status=OK,
            config_hash=rule.config_hash,
            finished_at=finished,
        )
        for name, finished in edges.items()
    ]
    store.import_rows("demo", [(r.row_id, {}) for r in rows])
    store.record_results(rows)
    verdicts = _sql_verdicts(store, NOW)
    standing = {row_id: v[len(CLAUSES)] for row_id, v in verdicts.items()}
    assert standing == {"at": True, "older": False, "younger": True}
    stored = store.results("demo", ["w"])
    aged = {
        row_id: first_reason(CLAUSES, next(iter(found.values())), rule, NOW)
        for row_id, found in stored.items()
    }
    assert aged == {"at": None, "older": "age", "younger": None}
