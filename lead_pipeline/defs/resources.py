"""Dagster resources: the lead store and the per-run options, both run-configurable."""

from __future__ import annotations

import dagster as dg
from pydantic import Field, PrivateAttr

from lead_pipeline.engine.options import RunRequest
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


class EnrichOptions(dg.ConfigurableResource, RunRequest):
    """The run options and workflow parameters (``engine.options.RunRequest``), set per
    run in the launchpad under ``resources``."""
