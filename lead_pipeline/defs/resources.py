"""Dagster resources: the lead store and the per-run options, both run-configurable."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import dagster as dg
import yaml
from pydantic import Field, PrivateAttr

from lead_pipeline.engine.compile import CompiledWorkflow, WorkflowConfigError
from lead_pipeline.engine.options import (
    DEFAULT_MAX_SHARDS,
    DEFAULT_PARALLEL,
    DEFAULT_SHARD_SIZE,
    RunOptions,
)
from lead_pipeline.settings import get_settings
from lead_pipeline.store import LeadStore


class LeadStoreResource(dg.ConfigurableResource):
    """The lead store; its URL defaults to ``LEAD_PIPELINE_DB_URL`` or the SQLite file."""

    db_url: str = Field(default="", description="SQLAlchemy URL; empty means the default")
    _store: LeadStore | None = PrivateAttr(default=None)

    def get(self) -> LeadStore:
        # One engine (one connection pool) per process, created on first use.
        if self._store is None:
            self._store = LeadStore(self.db_url or get_settings().db_url)
        return self._store


class EnrichOptions(dg.ConfigurableResource):
    """What the old script took as flags; set per run in the launchpad under ``resources``."""

    parallel: int = Field(
        default=DEFAULT_PARALLEL, ge=1, description="rows in flight across all shards"
    )
    force: bool = Field(default=False, description="re-run every eligible row")
    retry_failed: bool = Field(default=False, description="only rows whose last attempt failed")
    limit: int | None = Field(default=None, ge=0, description="process at most N rows")
    shard_size: int = Field(default=DEFAULT_SHARD_SIZE, ge=1, description="rows per step")
    max_shards: int = Field(default=DEFAULT_MAX_SHARDS, ge=1, description="steps per workflow")
    max_cost: float | None = Field(default=None, ge=0, description="stop starting rows past it")
    params: dict[str, str] = Field(
        default_factory=dict,
        description="workflow parameters, e.g. {llm_threshold: '0.8'}; YAML scalars",
    )

    def _parsed_params(self) -> dict[str, Any]:
        return {key: yaml.safe_load(value) for key, value in self.params.items()}

    def for_workflow(self, workflow: CompiledWorkflow) -> RunOptions:
        """Options for one workflow: only the parameters it declares are passed on."""
        declared = workflow.spec.params
        return RunOptions(
            parallel=self.parallel,
            force=self.force,
            retry_failed=self.retry_failed,
            limit=self.limit,
            shard_size=self.shard_size,
            max_shards=self.max_shards,
            max_cost=self.max_cost,
            params={k: v for k, v in self._parsed_params().items() if k in declared},
        )

    def check_params(self, known: Iterable[str]) -> None:
        """Refuse a parameter no workflow declares: a typo must not be silently ignored."""
        known = set(known)
        unknown = sorted(set(self.params) - known)
        if unknown:
            raise WorkflowConfigError(
                f"unknown workflow parameter(s) {', '.join(unknown)} "
                f"(known: {', '.join(sorted(known)) or 'none'})"
            )
