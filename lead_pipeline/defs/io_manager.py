"""The lead store's face toward Dagster.

Two kinds of values pass through it. An asset's output is its run summary,
which the store already holds (the summarize step closed the run record), so
handling it writes nothing; loading the asset (from a notebook, or a user's own
downstream asset) gives the lead list's wide table as a DataFrame. Values between
steps (shards, shard summaries) are pickled into the store, so steps on other
machines share nothing but the database.
"""

from __future__ import annotations

import pickle
from typing import Any

import dagster as dg

from lead_pipeline.defs.resources import LeadStoreResource
from lead_pipeline.engine.summary import RunSummary


def _output_name(name: str, mapping_key: str | None) -> str:
    return name if mapping_key is None else f"{name}[{mapping_key}]"


class LeadStoreIOManager(dg.ConfigurableIOManager):
    store: LeadStoreResource

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if isinstance(obj, RunSummary):
            return  # the asset's value is the wide table, already in the store
        store = self.store.get()
        name = _output_name(context.name, context.mapping_key)
        store.put_step_output(context.run_id, context.step_key, name, pickle.dumps(obj))

    def load_input(self, context: dg.InputContext) -> Any:
        store = self.store.get()
        if context.has_asset_key:
            return store.wide_frame(context.asset_partition_key)
        upstream = context.upstream_output
        if upstream is None:
            raise dg.Failure(f"input {context.name!r} has no upstream output to load")
        name = _output_name(upstream.name, upstream.mapping_key)
        return pickle.loads(store.get_step_output(upstream.run_id, upstream.step_key, name))
