"""Whether a node's result still stands, as far as the result itself can tell: one rule.

Selection reads the rule twice: row by row in Python (``engine/selection.py``,
``stale_reason``), and for a whole list at once in SQL (``store/settled.py``, the
settled rows). Each clause below is written once, with both encodings side by
side, and ``lead_pipeline_tests/store/test_standing_rule.py`` evaluates both over
generated and hostile results (the ``max_age`` boundary, other configuration
hashes, every status, the notes, missing timestamps) on SQLite and PostgreSQL.

A clause says a result *may be stale*. ``exact`` clauses give the same answer in
both encodings. The one that is not (a skip for want of a provider key, stale
only once the key is set) is stale whenever it may be in SQL: the query cannot
ask whether a key is set, so such a row is left to the row-by-row decision.

What the result alone cannot tell (what the node read: the input hash, its
``when``, the row's ``where``) stays with selection, which has the row's values;
the settled-rows query answers it from timestamps instead (see its docstring).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, false, func, or_
from sqlalchemy.sql.elements import ColumnElement

from lead_pipeline.store.records import FAILED, OK, SKIPPED, NodeResult
from lead_pipeline.store.shared import aware


@dataclass(frozen=True)
class NodeRule:
    """What one node's result is checked against: its configuration hash and ``max_age``
    now, and the ``error`` texts of its skips (for want of a key; for ``where``, a
    prefix). ``key_now`` says whether the node's provider key is set now (asked only
    of a skip for want of one)."""

    node: str
    config_hash: str
    max_age: timedelta | None
    unconfigured_note: str
    where_note: str
    key_now: Callable[[], bool] = lambda: False


# A result's columns in SQL: ``node_results.c`` or an alias's ``.c``.
Columns = Any


@dataclass(frozen=True)
class Clause:
    """One reason a result may no longer stand, in Python and in SQL (both true when it
    may be stale). ``reason`` is what ``status`` reports."""

    reason: str
    python: Callable[[NodeResult, NodeRule, datetime], bool]
    sql: Callable[[Columns, NodeRule, datetime], ColumnElement[bool]]
    exact: bool = True


FAILED_BEFORE = Clause(
    "failed",
    lambda r, rule, now: r.status == FAILED,
    lambda c, rule, now: c.status == FAILED,
)
OTHER_CONFIGURATION = Clause(
    "configuration",
    lambda r, rule, now: r.config_hash != rule.config_hash,
    lambda c, rule, now: c.config_hash != rule.config_hash,
)
# Skipped for want of a provider key: stale once the key is set (SQL cannot tell).
WANTED_A_KEY = Clause(
    "configuration",
    lambda r, rule, now: (
        r.status == SKIPPED and r.error == rule.unconfigured_note and rule.key_now()
    ),
    lambda c, rule, now: and_(
        c.status == SKIPPED, func.coalesce(c.error, "") == rule.unconfigured_note
    ),
    exact=False,
)
# An ok answer older than the node's ``max_age`` (strictly: at the boundary it stands).
AGED = Clause(
    "age",
    lambda r, rule, now: (
        rule.max_age is not None
        and r.status == OK
        and r.finished_at is not None
        and aware(r.finished_at) < now - rule.max_age
    ),
    lambda c, rule, now: (
        false()
        if rule.max_age is None
        # In UTC: SQLite compares a timestamp's text, and drops the zone of the one it is sent.
        else and_(
            c.status == OK,
            c.finished_at.is_not(None),
            c.finished_at < (now - rule.max_age).astimezone(UTC),
        )
    ),
)

# In the order selection asks them: these two before anything the row's values decide,
BEFORE_VALUES = (FAILED_BEFORE, OTHER_CONFIGURATION)
# these two after (a row whose inputs changed is "inputs", whatever its age).
AFTER_VALUES = (WANTED_A_KEY, AGED)
CLAUSES = BEFORE_VALUES + AFTER_VALUES


def first_reason(
    clauses: tuple[Clause, ...], result: NodeResult, rule: NodeRule, now: datetime
) -> str | None:
    """The reason of the first clause that holds for ``result`` (Python), or None."""
    for clause in clauses:
        if clause.python(result, rule, now):
            return clause.reason
    return None


def standing_sql(c: Columns, rules: list[NodeRule], now: datetime) -> ColumnElement[bool]:
    """SQL true for a result of one of ``rules``' nodes that no clause says may be stale."""
    return or_(
        *(
            and_(c.node == rule.node, *(~clause.sql(c, rule, now) for clause in CLAUSES))
            for rule in rules
        )
    )


def skipped_for_where_python(result: NodeResult | None, where_note: str) -> bool:
    """A skip written because the row was outside the workflow's ``where``."""
    return (
        result is not None
        and result.status == SKIPPED
        and (result.error or "").startswith(where_note)
    )


def skipped_for_where_sql(c: Columns, where_note: str) -> ColumnElement[bool]:
    """``skipped_for_where_python`` in SQL: a prefix compared as text, not LIKE (which
    SQLite matches without regard to case, and where ``%`` and ``_`` are wildcards)."""
    error = func.coalesce(c.error, "")
    return and_(c.status == SKIPPED, func.substr(error, 1, len(where_note)) == where_note)


__all__ = [
    "AGED",
    "CLAUSES",
    "FAILED_BEFORE",
    "OTHER_CONFIGURATION",
    "WANTED_A_KEY",
    "Clause",
    "NodeRule",
    "first_reason",
    "skipped_for_where_python",
    "skipped_for_where_sql",
    "standing_sql",
]
