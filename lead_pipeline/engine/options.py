"""Per-run options: what the old script took as flags, now run configuration."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

DEFAULT_PARALLEL = 5
DEFAULT_SHARD_SIZE = 1000
DEFAULT_MAX_SHARDS = 2


@dataclass(frozen=True)
class RunOptions:
    """How one materialization treats its rows.

    ``parallel`` counts rows in flight across all shards, as the old
    ``--parallel`` did. ``shard_size`` and ``max_shards`` decide how many Dagster
    steps carry those rows: each step costs seconds to launch, so a shard holds
    hundreds or thousands of rows and runs them concurrently with async I/O.
    """

    parallel: int = DEFAULT_PARALLEL
    force: bool = False
    retry_failed: bool = False
    limit: int | None = None
    shard_size: int = DEFAULT_SHARD_SIZE
    max_shards: int = DEFAULT_MAX_SHARDS
    max_cost: float | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.parallel < 1:
            raise ValueError(f"parallel must be at least 1, got {self.parallel}")
        if self.shard_size < 1:
            raise ValueError(f"shard_size must be at least 1, got {self.shard_size}")
        if self.max_shards < 1:
            raise ValueError(f"max_shards must be at least 1, got {self.max_shards}")
        if self.limit is not None and self.limit < 0:
            raise ValueError(f"limit must not be negative, got {self.limit}")
        if self.max_cost is not None and self.max_cost < 0:
            raise ValueError(f"max_cost must not be negative, got {self.max_cost}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
