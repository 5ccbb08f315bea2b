"""The workflow model: what a workflow YAML file may say, validated by pydantic.

A node's own settings (a prompt, a URL, a provider list) sit beside ``id``,
``type`` and ``outputs`` in the YAML; the node type that runs it validates them,
so this model stays the same as node types are added.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

OutputType = Literal["string", "integer", "number", "boolean", "array", "object"]
IDENTIFIER = r"^[a-z_][a-z0-9_]{0,63}$"
WORKFLOW_NAME = r"^[a-z0-9][a-z0-9_]{0,63}$"


def _shorthand_specs(value: Any) -> Any:
    """``{is_b2b: boolean}`` as well as the long form; a list names string columns."""
    if isinstance(value, dict):
        return {k: ({"type": v} if isinstance(v, str) else v) for k, v in value.items()}
    if isinstance(value, list):
        return {k: {"type": "string"} for k in value}
    return value


class OutputSpec(BaseModel):
    """One column a node writes, and the constraints every stored value of it meets.

    The constraints are checked on every value a node returns (see
    ``lead_pipeline.workflows.outputs``): a value that breaks one fails the
    node for that row instead of being stored. ``items`` declares the fields
    of each object in an array (e.g. each founder).
    """

    model_config = ConfigDict(extra="forbid")

    type: OutputType = "string"
    description: str = ""
    preview: bool = True  # shown in the materialization's preview table
    minimum: int | float | None = None
    maximum: int | float | None = None
    enum: list[str | int | float | bool] | None = Field(default=None, min_length=1)
    pattern: str | None = None
    max_length: int | None = Field(default=None, ge=0)
    items: dict[str, OutputSpec] | None = None

    @field_validator("items", mode="before")
    @classmethod
    def _items_shorthand(cls, value: Any) -> Any:
        return _shorthand_specs(value)

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        import re

        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"pattern {value!r} is not a regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _constraints_fit_the_type(self) -> OutputSpec:
        numeric = self.type in ("integer", "number")
        misplaced = [
            name
            for name, allowed in (
                ("minimum", numeric),
                ("maximum", numeric),
                ("enum", numeric or self.type == "string"),
                ("pattern", self.type == "string"),
                ("max_length", self.type in ("string", "array")),
                ("items", self.type == "array"),
            )
            if getattr(self, name) is not None and not allowed
        ]
        if misplaced:
            raise ValueError(f"{', '.join(misplaced)} cannot constrain a {self.type} output")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError(f"minimum {self.minimum} is above maximum {self.maximum}")
        return self


class NodeConfigBase(BaseModel):
    """Base of a node type's configuration model: what the loader reads from it.

    ``template_fields`` names the settings that are Jinja templates over the row
    (``None``: every string in the configuration is one); ``expression_fields``
    those holding expressions (a string, or a dict or list of them). The loader
    compiles exactly these when a workflow loads and learns from them which
    columns the node reads. Unknown keys are mistakes, not extensions.
    """

    model_config = ConfigDict(extra="forbid")

    template_fields: ClassVar[tuple[str, ...] | None] = None
    expression_fields: ClassVar[tuple[str, ...]] = ()


class NodeSpec(BaseModel):
    """One step of a row's journey; its extra keys are the node type's configuration."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(pattern=IDENTIFIER)
    type: str = Field(min_length=1)
    when: str | None = None
    outputs: dict[str, OutputSpec] = Field(default_factory=dict)

    @field_validator("outputs", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return _shorthand_specs(value)

    @field_validator("outputs")
    @classmethod
    def _column_names(cls, value: dict[str, OutputSpec]) -> dict[str, OutputSpec]:
        import re

        for column in value:
            if not re.match(IDENTIFIER, column) or column == "_id":
                raise ValueError(f"output column {column!r} must match {IDENTIFIER} and not be _id")
        return value

    @property
    def config(self) -> dict[str, Any]:
        """The node type's own settings: every key beyond the common ones."""
        return dict(self.model_extra or {})

    def fingerprint(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class WorkflowSpec(BaseModel):
    """A named, ordered graph of nodes run over every eligible row of a lead list."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=WORKFLOW_NAME)
    description: str = ""
    group: str = Field(default="enrichment", pattern=IDENTIFIER)
    needs: list[str] = Field(default_factory=list)
    where: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    nodes: list[NodeSpec] = Field(min_length=1)
    source: Path | None = Field(default=None, exclude=True)

    @field_validator("name")
    @classmethod
    def _not_generated(cls, name: str) -> str:
        # Dagster names each workflow's ops <name>__select, <name>__run_shard and
        # <name>__summarize: a workflow called "scoring__select" would collide with them.
        if "__" in name:
            raise ValueError(
                f"workflow name {name!r} contains '__', which the names Dagster makes for "
                "each workflow's steps use; use a single '_'"
            )
        if name == "all":
            raise ValueError("'all' is reserved: `--workflow all` means every workflow")
        return name

    @field_validator("nodes")
    @classmethod
    def _unique_ids(cls, nodes: list[NodeSpec]) -> list[NodeSpec]:
        seen: set[str] = set()
        for node in nodes:
            if node.id in seen:
                raise ValueError(f"node id {node.id!r} is used twice")
            seen.add(node.id)
        return nodes

    def output_columns(self) -> list[str]:
        columns: dict[str, None] = {}
        for node in self.nodes:
            for column in node.outputs:
                columns.setdefault(column, None)
        return list(columns)

    def node_hashes(self) -> list[str]:
        """A chained hash per node: changing node k changes the hash of k and every later node.

        That is exactly the re-run rule: a changed node and everything after it
        in the same workflow are stale for every row, nothing earlier is.
        """
        hashes: list[str] = []
        previous = ""
        for node in self.nodes:
            payload = json.dumps([previous, node.fingerprint()], sort_keys=True, default=str)
            previous = hashlib.sha256(payload.encode()).hexdigest()[:32]
            hashes.append(previous)
        return hashes

    def config_hash(self) -> str:
        """The workflow's code version: its nodes, filter, needs and parameters."""
        payload = json.dumps(
            self.model_dump(mode="json", exclude_none=True), sort_keys=True, default=str
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:32]
