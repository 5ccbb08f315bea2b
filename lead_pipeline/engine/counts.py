"""Rows counted one way everywhere: the summary, the checks, the plan and the progress bar.

Two groups, each a dataclass the counting types inherit, so that "processed"
and "failure rate" are defined once:

- :class:`Outcomes`: what happened to the rows a run processed (ok, failed,
  no answer), and from them ``processed`` and ``failure_rate``. A run's
  summary, a shard's, the progress of a run in flight and the checks'
  evaluation of a list are outcomes.
- :class:`LeftAlone`: the rows a run does not process, by why (up to date,
  outside ``where``, held back by ``limit``, not failed under
  ``--retry-failed``). A selection, a plan and a run's summary carry them.

Fields are keyword-only, so a type that adds its own required fields (a
summary's lead list) can still inherit them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(kw_only=True)
class Outcomes:
    """Processed rows by outcome.

    ``no_answer``: processed, but every node skipped itself (a ``when`` that
    was false, a company with no description to go on): neither an answer nor
    a failure, and shown as neither.
    """

    ok: int = 0
    failed: int = 0
    no_answer: int = 0

    @property
    def processed(self) -> int:
        return self.ok + self.failed + self.no_answer

    @property
    def failure_rate(self) -> float:
        """The share of processed rows that failed (0 when none was processed)."""
        done = self.processed
        return self.failed / done if done else 0.0

    def set_outcomes(self, ok: int, failed: int, no_answer: int) -> None:
        self.ok, self.failed, self.no_answer = ok, failed, no_answer


@dataclass(kw_only=True)
class LeftAlone:
    """Rows a run leaves alone, by why."""

    up_to_date: int = 0
    not_eligible: int = 0  # outside the workflow's ``where``
    held_back: int = 0  # past ``limit``
    left_alone: int = 0  # ``retry_failed``: rows whose last attempt did not fail
    waiting_on_batch: int = 0  # their llm question is in an LLM batch not yet collected
