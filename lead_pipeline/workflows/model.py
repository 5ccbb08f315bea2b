"""The workflow model: what a workflow YAML file may say, validated by pydantic.

A node's own settings (a prompt, a URL, a provider list) sit beside ``id``,
``type`` and ``outputs`` in the YAML; the node type that runs it validates them,
so this model stays the same as node types are added.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lead_pipeline.durations import parse_duration

OutputType = Literal["string", "integer", "number", "boolean", "array", "object"]
ParamType = Literal["number", "integer", "boolean", "string"]
IDENTIFIER = r"^[a-z_][a-z0-9_]{0,63}$"
WORKFLOW_NAME = r"^[a-z0-9][a-z0-9_]{0,63}$"
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


class ParamValueError(ValueError):
    """A parameter value that is not of the parameter's declared type."""


def coerce_param(value: Any, kind: ParamType) -> Any:
    """``value`` as a ``kind``, or :class:`ParamValueError` saying what was expected.

    Values from the command line and the launchpad arrive as text (or as YAML
    scalars), so a numeric string is a number; anything that is not is refused
    rather than compared as text, which silently skipped every LLM pass.
    """
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise ParamValueError(f"expected a boolean (true or false), got {value!r}")
    if isinstance(value, dict | list | tuple) or value is None:
        raise ParamValueError(
            f"expected {'an' if kind == 'integer' else 'a'} {kind}, got {value!r}"
        )
    if kind == "string":
        return value if isinstance(value, str) else str(value)
    if isinstance(value, bool):
        raise ParamValueError(
            f"expected {'an' if kind == 'integer' else 'a'} {kind}, got {value!r}"
        )
    try:
        number = float(value) if not isinstance(value, int) else value
    except (TypeError, ValueError):
        raise ParamValueError(
            f"expected {'an' if kind == 'integer' else 'a'} {kind}, got {value!r}"
        ) from None
    if isinstance(number, float) and not math.isfinite(number):
        raise ParamValueError(f"expected a finite {kind}, got {value!r}")
    if kind == "integer":
        if isinstance(number, float) and not number.is_integer():
            raise ParamValueError(f"expected an integer, got {value!r}")
        return int(number)
    return float(number)


class ParamSpec(BaseModel):
    """A workflow parameter: its type (declared, or inferred from the default) and default.

    ``llm_threshold: 0.8`` is short for ``{type: number, default: 0.8}``.
    """

    model_config = ConfigDict(extra="forbid")

    type: ParamType
    default: Any
    description: str = ""

    @model_validator(mode="after")
    def _default_fits(self) -> ParamSpec:
        try:
            self.default = coerce_param(self.default, self.type)
        except ParamValueError as exc:
            raise ValueError(f"default: {exc}") from None
        return self


def _infer_param(value: Any) -> Any:
    if isinstance(value, dict):
        return value
    if isinstance(value, bool):
        return {"type": "boolean", "default": value}
    if isinstance(value, int):
        return {"type": "integer", "default": value}
    if isinstance(value, float):
        return {"type": "number", "default": value}
    if isinstance(value, str):
        return {"type": "string", "default": value}
    raise ValueError(
        f"a parameter is a number, integer, boolean or string, or "
        f"{{type: ..., default: ...}}; got {value!r}"
    )


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
    # A node must give every declared column a value; ``optional: true`` lets it give none
    # (null). Unset means required; it is left out of the node's hash (``fingerprint``):
    # it decides what is accepted, not what a node computes.
    optional: bool | None = None
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

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        """Refuse a node type that declares a template or expression field it does not have:
        the loader would otherwise compile nothing there and miss the columns it reads."""
        super().__pydantic_init_subclass__(**kwargs)
        for kind, names in (
            ("template_fields", cls.template_fields or ()),
            ("expression_fields", cls.expression_fields),
        ):
            unknown = [name for name in names if name not in cls.model_fields]
            if unknown:
                raise TypeError(
                    f"{cls.__qualname__}.{kind} names {', '.join(map(repr, unknown))}, "
                    f"which {'is' if len(unknown) == 1 else 'are'} not among its fields "
                    f"({', '.join(cls.model_fields) or 'none'})"
                )

    def template_values(self) -> dict[str, Any] | None:
        """The template fields that hold a value, defaults included (a default template
        reads a column like a written one); None when every string is a template."""
        if self.template_fields is None:
            return None
        values = {name: getattr(self, name) for name in self.template_fields}
        return {name: value for name, value in values.items() if value is not None}

    # A node type whose code reads columns other than through its templates and
    # expressions names them here, or says it reads every value: the engine hands
    # a node only its inputs, so a column left out is a column the node never sees.

    def input_columns(self) -> list[tuple[str, str]]:
        """``(field, column)`` for every column the node's code reads beyond templates."""
        return []

    def reads_whole_row(self) -> bool:
        return False


class NodeSpec(BaseModel):
    """One step of a row's journey; its extra keys are the node type's configuration."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(pattern=IDENTIFIER)
    type: str = Field(min_length=1)
    when: str | None = None
    # Inputs that must hold a value: each entry a column, or a list of columns of
    # which at least one must. A row missing one is skipped, never guessed at.
    requires: list[str | list[str]] = Field(default_factory=list)
    # Results older than this are stale (``90d``, ``12h``); None: they never age.
    max_age: timedelta | None = None
    outputs: dict[str, OutputSpec] = Field(default_factory=dict)

    @field_validator("max_age", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return None if value is None else parse_duration(value)

    @field_validator("requires")
    @classmethod
    def _requirement_names(cls, value: list[str | list[str]]) -> list[str | list[str]]:
        for entry in value:
            names = [entry] if isinstance(entry, str) else entry
            if not names:
                raise ValueError("an alternative list in requires must name at least one column")
            for name in names:
                if not re.match(IDENTIFIER, name):
                    raise ValueError(f"requires: {name!r} is not a column name")
        return value

    @field_validator("outputs", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return _shorthand_specs(value)

    @field_validator("outputs")
    @classmethod
    def _column_names(cls, value: dict[str, OutputSpec]) -> dict[str, OutputSpec]:
        for column in value:
            if not re.match(IDENTIFIER, column) or column == "_id":
                raise ValueError(f"output column {column!r} must match {IDENTIFIER} and not be _id")
        return value

    @property
    def config(self) -> dict[str, Any]:
        """The node type's own settings: every key beyond the common ones."""
        return dict(self.model_extra or {})

    def requirements(self) -> list[tuple[str, ...]]:
        """``requires`` as alternatives: each tuple needs at least one non-empty column."""
        return [(entry,) if isinstance(entry, str) else tuple(entry) for entry in self.requires]

    def fingerprint(self) -> dict[str, Any]:
        # max_age decides when a result ages, not what it is, an llm node's lane how its
        # question travels, and an output's optional flag what is accepted, not what is
        # computed: changing any must not re-run every row, so they stay out of the hash.
        return self.model_dump(
            mode="json",
            exclude_none=True,
            exclude={"max_age": True, "lane": True, "outputs": {"__all__": {"optional"}}},
        )


class WorkflowSpec(BaseModel):
    """A named, ordered graph of nodes run over every eligible row of a lead list."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=WORKFLOW_NAME)
    description: str = ""
    group: str = Field(default="enrichment", pattern=IDENTIFIER)
    needs: list[str] = Field(default_factory=list)
    where: str | None = None
    params: dict[str, ParamSpec] = Field(default_factory=dict)
    nodes: list[NodeSpec] = Field(min_length=1)
    # false: `--workflow all`, the sensor and the schedule leave the workflow out, and it
    # runs when named (research that pays for pages and tokens on every row). None is
    # true, and keeps the code version of workflows that do not say.
    in_all: bool | None = None
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

    @field_validator("params", mode="before")
    @classmethod
    def _param_shorthand(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {key: _infer_param(item) for key, item in value.items()}
        return value

    @field_validator("params")
    @classmethod
    def _param_names(cls, value: dict[str, ParamSpec]) -> dict[str, ParamSpec]:
        for name in value:
            if not re.match(IDENTIFIER, name):
                raise ValueError(f"parameter name {name!r} must match {IDENTIFIER}")
        return value

    def param_defaults(self) -> dict[str, Any]:
        return {name: param.default for name, param in self.params.items()}

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
