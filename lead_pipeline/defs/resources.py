"""Dagster resources: the lead store and the per-run options, both run-configurable."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import dagster as dg
import yaml
from pydantic import Field, PrivateAttr

from lead_pipeline.engine.compile import CompiledWorkflow, WorkflowConfigError
from lead_pipeline.engine.options import RunOptionFields, RunOptions
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


class EnrichOptions(dg.ConfigurableResource, RunOptionFields):
    """The run options (see ``engine.options``), set per run in the launchpad under
    ``resources``; the workflow parameters as YAML scalars."""

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
            **self.option_values(),
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
