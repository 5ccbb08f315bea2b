"""Per-run options, declared once: the CLI's flags, the launchpad's config and the engine's
options all come from :class:`RunOptionFields`.

To add an option, add a field there with a ``description`` (and its bounds): the
``enrich`` command gets a ``--flag`` with that help and the default
(``cli.common.add_option_flags``), the Dagster
launchpad gets the config field, and the engine receives it in
:class:`RunOptions`. Validation happens once, in the model.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from lead_pipeline.workflows.errors import WorkflowError

if TYPE_CHECKING:
    from lead_pipeline.engine.compile import CompiledWorkflow

DEFAULT_PARALLEL = 5
DEFAULT_SHARD_SIZE = 1000
DEFAULT_MAX_SHARDS = 2


class RunOptionFields(BaseModel):
    """How one materialization treats its rows (everything but the workflow parameters).

    ``parallel`` counts rows in flight across all shards. ``shard_size`` and
    ``max_shards`` decide how many Dagster steps carry those rows: each step costs
    seconds to launch, so a shard holds hundreds or thousands of rows and runs
    them concurrently with async I/O.
    """

    parallel: int = Field(
        DEFAULT_PARALLEL,
        ge=1,
        description="rows in flight across all shards, waiting on providers (a workflow of "
        "inline nodes only runs 64 per shard)",
    )
    force: bool = Field(
        False,
        description="re-run every eligible row; identical provider questions are still "
        "answered from the response cache (add --refresh to ask again)",
    )
    refresh: bool = Field(
        False,
        description="ask providers again instead of answering from the response cache, for "
        "the rows this run processes (with --force: every row)",
    )
    retry_failed: bool = Field(False, description="process only rows whose last attempt failed")
    limit: int | None = Field(
        None, ge=0, description="process at most N rows (a dry run before paying)"
    )
    rows: list[str] | None = Field(
        None,
        description="process only the row with this id (repeatable); a finished row is left "
        "alone unless --force",
        json_schema_extra={"flag": "--row", "metavar": "ID"},
    )
    shard_size: int = Field(DEFAULT_SHARD_SIZE, ge=1, description="rows per Dagster step")
    max_shards: int = Field(DEFAULT_MAX_SHARDS, ge=1, description="Dagster steps per workflow")
    max_cost: float | None = Field(
        None,
        ge=0,
        description="the most this run spends, every workflow, shard and process "
        "together: a paid call that could pass it is not made",
        json_schema_extra={"metavar": "USD"},
    )
    # Text, not a Literal: the launchpad's config types are Dagster's, which has no Literal.
    lane: str | None = Field(
        None,
        pattern="^(sync|batch)$",
        description="how llm nodes ask: sync (one call per row) or batch (provider batches "
        "at half the price, answered within 24 h; the run ends once they are submitted); "
        "default: each node's lane in its workflow, else sync",
        json_schema_extra={"metavar": "sync|batch"},
    )
    plan_only: bool = Field(
        False,
        description="show what the run would process, call and cost, and run no row "
        "(calls no provider)",
        json_schema_extra={"flag": "--plan"},
    )

    def option_values(self) -> dict[str, Any]:
        """The shared options' values, to hand from one of these models to another."""
        return {name: getattr(self, name) for name in RunOptionFields.model_fields}


class RunOptions(RunOptionFields):
    """The options the engine runs one workflow with: the shared ones and its parameters."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    params: dict[str, Any] = Field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump()


class RunRequest(RunOptionFields):
    """What a run was asked for: the shared options, and the parameters of every workflow
    it runs as YAML scalars (``{llm_threshold: '0.8'}``), as the launchpad and the CLI
    give them.

    The Dagster resource (``defs.resources.EnrichOptions``) is this model; the CLI
    checks a request with it before any Dagster code is imported, so a command
    that has nothing to do never pays for importing Dagster.
    """

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
            raise WorkflowError(
                f"unknown workflow parameter(s) {', '.join(unknown)} "
                f"(known: {', '.join(sorted(known)) or 'none'})"
            )
