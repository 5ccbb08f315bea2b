"""Counts a run ends with, per shard and merged: what the run did, in one line."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

MAX_ERRORS_KEPT = 10


@dataclass
class ShardSummary:
    shard: int
    rows: int
    ok: int = 0
    failed: int = 0
    not_started: int = 0
    cost: float = 0.0
    duration_s: float = 0.0
    errors: list[str] = field(default_factory=list)

    def add_row(self, failed: bool, cost: float, error: str | None) -> None:
        self.cost += cost
        if failed:
            self.failed += 1
            if error and len(self.errors) < MAX_ERRORS_KEPT:
                self.errors.append(error)
        else:
            self.ok += 1


@dataclass
class RunSummary:
    """What one materialization of one workflow on one lead list did."""

    lead_list: str
    workflow: str
    selected: int = 0
    ok: int = 0
    failed: int = 0
    not_started: int = 0
    up_to_date: int = 0
    not_eligible: int = 0
    held_back: int = 0
    cost: float = 0.0
    duration_s: float = 0.0
    shards: int = 0
    store_run_id: int | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        return self.not_eligible

    @property
    def rows_per_minute(self) -> float:
        done = self.ok + self.failed
        return 60.0 * done / self.duration_s if self.duration_s > 0 else 0.0

    def merge(self, shards: Iterable[ShardSummary]) -> RunSummary:
        for shard in shards:
            self.shards += 1
            self.ok += shard.ok
            self.failed += shard.failed
            self.not_started += shard.not_started
            self.cost += shard.cost
            for error in shard.errors:
                if len(self.errors) < MAX_ERRORS_KEPT:
                    self.errors.append(error)
        return self

    def line(self) -> str:
        text = (
            f"{self.workflow} on {self.lead_list}: {self.ok} ok, {self.failed} failed, "
            f"{self.not_eligible} skipped (where), {self.up_to_date} up to date"
        )
        if self.not_started:
            text += f", {self.not_started} not started (budget reached)"
        if self.held_back:
            text += f", {self.held_back} held back by limit"
        return text + f"; cost ${self.cost:.4f}"

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["skipped"] = self.skipped
        data["rows_per_minute"] = round(self.rows_per_minute, 1)
        return data
