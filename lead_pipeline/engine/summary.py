"""Counts a run ends with, per shard and merged, and its failures grouped by cause.

A thousand rows failing for one reason should read as one line with a count,
not a thousand lines: :func:`fold_error` turns an error text into its cause
(ids, numbers, URLs and quoted values folded), and :func:`group_failures`
counts rows per cause with a few row ids and names to look at. The CLI's
closing output, the materialization's metadata and a failed run's
description all show these groups.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from lead_pipeline.engine.counts import LeftAlone, Outcomes
from lead_pipeline.providers import scrub
from lead_pipeline.store import FailedRow

if TYPE_CHECKING:
    from lead_pipeline.engine.batch_lane import Submitted
    from lead_pipeline.store.batches import BatchRecord

MAX_ERRORS_KEPT = 10
MAX_CAUSES = 10  # causes shown; the rest are counted as "other causes"
EXAMPLES_PER_CAUSE = 3
MAX_CAUSE_CHARS = 300

# Order matters: URLs and e-mails before the numbers inside them.
_FOLDS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(?:https?|ftp)://[^\s'\"<>]+", re.I), "<url>"),
    (re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"), "<email>"),
    (re.compile(r"\b[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}\b", re.I), "<id>"),
    # Long tokens with letters and three or more digits: request ids, row ids, hashes.
    (re.compile(r"\b(?=(?:[\w-]*\d){3})(?=[\w-]*[a-z])[\w-]{10,}\b", re.I), "<id>"),
    # Quoted values with anything but identifier characters: a company name, a URL path.
    (re.compile(r"'[^'\n]*[^\w'\n][^'\n]*'"), "'<text>'"),
    (re.compile(r'"[^"\n]*[^\w"\n][^"\n]*"'), '"<text>"'),
    # Numbers, but not an HTTP status: "HTTP 429" and "429 Too Many" are causes.
    (
        re.compile(
            r"(?<![\w.<])(?<!HTTP )(?<!status )[-+]?\d+(?:[.,]\d+)*(?:e[-+]?\d+)?(?![\w>])", re.I
        ),
        "<n>",
    ),
]


def fold_error(text: str) -> str:
    """The cause of an error: its text with what varies per row folded away."""
    folded = " ".join((text or "").split())
    for pattern, replacement in _FOLDS:
        folded = pattern.sub(replacement, folded)
    if len(folded) > MAX_CAUSE_CHARS:
        folded = folded[: MAX_CAUSE_CHARS - 3] + "..."
    return folded or "no error text"


@dataclass
class ErrorGroup:
    """The rows that failed for one cause at one node."""

    workflow: str
    node: str
    cause: str
    count: int = 0
    examples: list[tuple[str, str | None]] = field(default_factory=list)  # (row id, name)

    @property
    def label(self) -> str:
        return f"{self.node}: {self.cause}"

    def examples_text(self) -> str:
        shown = [f"{row_id} ({name})" if name else row_id for row_id, name in self.examples]
        more = self.count - len(self.examples)
        return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def group_failures(
    failures: Iterable[FailedRow], *, limit: int = MAX_CAUSES
) -> tuple[list[ErrorGroup], int, int]:
    """The ``limit`` biggest causes, and how many further causes and rows were left out.

    Secrets are masked again on the way out (errors are stored masked; this
    is for text that reached the store some other way).
    """
    groups: dict[tuple[str, str, str], ErrorGroup] = {}
    for failure in failures:
        cause = fold_error(failure.error)
        key = (failure.workflow, failure.node, cause)
        group = groups.get(key)
        if group is None:
            group = groups[key] = ErrorGroup(failure.workflow, failure.node, cause)
        group.count += 1
        if len(group.examples) < EXAMPLES_PER_CAUSE:
            group.examples.append((failure.row_id, failure.name))
    ranked = sorted(groups.values(), key=lambda g: (-g.count, g.workflow, g.node, g.cause))
    shown, rest = ranked[:limit], ranked[limit:]
    for group in shown:
        group.cause = scrub(group.cause)
        group.examples = [(scrub(r), scrub(n) if n else n) for r, n in group.examples]
    return shown, len(rest), sum(g.count for g in rest)


def describe_failures(groups: list[ErrorGroup], other_causes: int, other_rows: int) -> str:
    """The groups as plain lines: ``12 rows  node: cause  (e.g. row ids and names)``."""
    lines = [
        f"{g.count:>5} row{'s' if g.count != 1 else ' '}  {g.label}  (e.g. {g.examples_text()})"
        for g in groups
    ]
    if other_causes:
        lines.append(f"{other_rows} more row(s) failed for {other_causes} other cause(s)")
    return "\n".join(lines)


@dataclass
class ShardSummary(Outcomes):
    """What one shard did: its rows' outcomes as the shard counted them, and their cost."""

    shard: int
    rows: int
    not_started: int = 0
    cost: float = 0.0
    duration_s: float = 0.0
    errors: list[str] = field(default_factory=list)
    # Rows whose llm question joined an LLM batch (``--lane batch``), and what was submitted.
    waiting: int = 0
    submitted: Submitted | None = None
    # Paid calls that waited for other calls in flight to settle under ``max_cost``.
    budget_waits: int = 0

    def add_row(self, failed: bool, cost: float, error: str | None) -> None:
        self.cost += cost
        if failed:
            self.failed += 1
            if error and len(self.errors) < MAX_ERRORS_KEPT:
                self.errors.append(error)
        else:
            self.ok += 1


@dataclass
class RunSummary(Outcomes, LeftAlone):
    """What one materialization of one workflow on one lead list did: the outcomes of the
    rows it processed (``engine/counts.py``), the rows it left alone, cost and time."""

    lead_list: str
    workflow: str
    selected: int = 0
    not_started: int = 0
    total_rows: int = 0  # the list's rows when the run selected
    # Research answers whose evidence did not support them: stored as no answer, not ok.
    unsupported: int = 0
    cost: float = 0.0
    duration_s: float = 0.0
    shards: int = 0
    store_run_id: int | None = None
    errors: list[str] = field(default_factory=list)
    causes: list[ErrorGroup] = field(default_factory=list)
    other_causes: int = 0
    other_cause_rows: int = 0
    # Rows whose question joined an LLM batch in this run (those already waiting on one when
    # it selected are ``waiting_on_batch``), and the batches this run submitted.
    waiting: int = 0
    failed_in_batch: int = 0  # their batch line failed as this run collected it
    batches: list[BatchRecord] = field(default_factory=list)
    batch_refusal: str | None = None
    budget_waits: int = 0  # paid calls that waited for others in flight to settle

    def count_from_store(self, ok: int, failed: int, skipped: int) -> RunSummary:
        """Take the counts the store holds for this run (``LeadStore.run_counts``).

        The shards count too, but the store is what ``status``, exports and the
        progress bar read: the run reports the same figures. A row whose nodes
        all skipped is ``no_answer``, as ``status`` shows it: calling it ok would
        claim an answer the row does not have.
        """
        self.set_outcomes(ok, failed, no_answer=skipped)
        return self

    def with_causes(self, failures: Iterable[FailedRow]) -> RunSummary:
        self.causes, self.other_causes, self.other_cause_rows = group_failures(failures)
        return self

    @property
    def skipped(self) -> int:
        return self.not_eligible

    @property
    def rows_per_minute(self) -> float:
        done = self.processed
        return 60.0 * done / self.duration_s if self.duration_s > 0 else 0.0

    def merge(self, shards: Iterable[ShardSummary]) -> RunSummary:
        for shard in shards:
            self.shards += 1
            self.ok += shard.ok
            self.failed += shard.failed
            self.not_started += shard.not_started
            self.budget_waits += shard.budget_waits
            self.cost += shard.cost
            self.waiting += shard.waiting
            if shard.submitted is not None:
                self.batches += shard.submitted.batches
                self.batch_refusal = self.batch_refusal or shard.submitted.refusal
            for error in shard.errors:
                if len(self.errors) < MAX_ERRORS_KEPT:
                    self.errors.append(error)
        return self

    def line(self) -> str:
        text = (
            f"{self.workflow} on {self.lead_list}: {self.ok} ok, {self.failed} failed, "
            f"{self.not_eligible} skipped (where), {self.up_to_date} up to date"
        )
        if self.no_answer:
            text += f", {self.no_answer} with no answer (every node skipped them)"
        if self.left_alone:
            text += f", {self.left_alone} left alone (--retry-failed: not failed)"
        if self.not_started:
            text += f", {self.not_started} not started (budget reached)"
        if self.budget_waits:
            text += (
                f", {self.budget_waits} paid call{'s' if self.budget_waits != 1 else ''} "
                "waited for calls in flight to settle under max_cost"
            )
        if self.held_back:
            text += f", {self.held_back} held back by limit"
        if self.unsupported:
            text += (
                f", {self.unsupported} answer{'s' if self.unsupported != 1 else ''} "
                "unsupported by their evidence (stored as no answer)"
            )
        if self.waiting or self.waiting_on_batch:
            text += f", {self.waiting + self.waiting_on_batch} waiting on LLM batches"
        if self.failed_in_batch:
            text += (
                f", {self.failed_in_batch} failed in their LLM batch (asked again by the next run)"
            )
        return text + f"; cost ${self.cost:.4f}"

    def batch_lines(self) -> list[str]:
        """What the batch lane submitted, and how to follow it."""
        lines = []
        if self.batches:
            rows = sum(b.rows for b in self.batches)
            most = sum(b.price for b in self.batches)
            lines.append(
                f"submitted {len(self.batches)} LLM batch(es) holding {rows} questions "
                f"(at most ${most:.4f}); follow them with: lead-pipeline batches --lead "
                f"{self.lead_list}; collect them with: lead-pipeline enrich --lead "
                f"{self.lead_list} --workflow {self.workflow} --lane batch --wait"
            )
        if self.batch_refusal:
            lines.append(self.batch_refusal)
        return lines

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["skipped"] = self.skipped
        data["rows_per_minute"] = round(self.rows_per_minute, 1)
        return data
