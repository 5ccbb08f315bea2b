"""The one validator of a node's outputs, built with pydantic from the node's declarations.

The runner checks every value a node returns with it before anything is
stored, the asset checks judge stored values with it, and the JSON Schema an
LLM node sends is generated from the same pydantic types, so the three can
never disagree about what a valid ``b2b_confidence`` is.

Validation is strict: no coercion (``"true"`` is not a boolean, ``1.0`` is not
an integer, ``True`` is not a number), no NaN or infinity anywhere in a value
(JSON has neither, and a NaN compares false to every ``where``), and the
constraints of the declaration (``minimum``, ``maximum``, ``enum``,
``pattern``, ``max_length``, ``items``).

A declared column is required: a node that returns no value for it (a plugin's dict
without the key, an ``http`` node whose ``extract`` finds nothing, ``null``) fails, unless
the column is declared ``optional: true``. Inside ``items``, fields may be null. A stored
``None`` is never judged invalid (:meth:`OutputValidator.problem`): rows written before a
column became required stay as they are.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    TypeAdapter,
    ValidationError,
)
from pydantic import create_model as _create_model

from lead_pipeline.workflows.model import OutputSpec

# The one table from declared output type to the Python type pydantic checks.
_BASE: dict[str, Any] = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": StrictBool,
    "array": list[Any],
    "object": dict[str, Any],
}

_STRICT = ConfigDict(strict=True, regex_engine="python-re", extra="forbid")


class InvalidOutput(ValueError):
    """A value a node returned, or a store holds, that breaks its column's declaration."""


def _annotation(spec: OutputSpec, where: str) -> Any:
    """The pydantic type of one declared column (not nullable)."""
    constraints: dict[str, Any] = {"strict": True}
    if spec.type in ("integer", "number"):
        if spec.minimum is not None:
            constraints["ge"] = spec.minimum
        if spec.maximum is not None:
            constraints["le"] = spec.maximum
        if spec.type == "number":
            constraints["allow_inf_nan"] = False
    if spec.type == "string" and spec.pattern is not None:
        constraints["pattern"] = spec.pattern
    if spec.type in ("string", "array") and spec.max_length is not None:
        constraints["max_length"] = spec.max_length
    base = _BASE[spec.type]
    if spec.type == "array" and spec.items is not None:
        base = list[_item_model(spec.items, where)]  # type: ignore[misc]
    if spec.enum is not None:
        # An enum fixes the values; the base type still refuses "1" for 1.
        constraints["json_schema_extra"] = {"enum": list(spec.enum)}
        return Annotated[base, Field(**constraints), AfterValidator(_one_of(spec.enum))]
    return Annotated[base, Field(**constraints)]


def _kind(value: Any) -> str:
    return "bool" if isinstance(value, bool) else "num" if isinstance(value, int | float) else "str"


def _one_of(allowed: list[Any]) -> Any:
    keys = {(_kind(a), a) for a in allowed}

    def check(value: Any) -> Any:
        if (_kind(value), value) not in keys:
            raise ValueError(f"{value!r} is not one of {allowed!r}")
        return value

    return check


def _item_model(fields: Mapping[str, OutputSpec], where: str) -> type[BaseModel]:
    return _create_model(  # type: ignore[call-overload]
        f"{where}_item",
        __config__=_STRICT,
        **{
            name: (_annotation(spec, f"{where}_{name}") | None, None)
            for name, spec in fields.items()
        },
    )


def _non_finite(value: Any, path: str) -> str | None:
    """Where ``value`` holds a NaN or an infinity, or a value JSON cannot hold."""
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{path}: {value} is not a finite number"
    if isinstance(value, str):
        return f"{path}: contains a NUL character" if "\x00" in value else None
    if value is None or isinstance(value, bool | int):
        return None
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = _non_finite(item, f"{path}[{i}]")
            if found:
                return found
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{path}: key {key!r} is not a string"
            found = _non_finite(item, f"{path}.{key}")
            if found:
                return found
        return None
    return f"{path}: a {type(value).__name__} is not a JSON value"


_TYPE_WORDS = {
    "bool": "boolean",
    "int": "integer",
    "float": "number",
    "string": "string",
    "list": "array",
    "dict": "object",
    "model": "object",
}


def _path(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _number(value: Any) -> Any:
    """``1`` for a bound declared as 1 (pydantic hands a number field's bounds back as floats)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _reason(error: Mapping[str, Any]) -> str:
    """One pydantic error as a sentence naming the column and the offending value."""
    where = _path(tuple(error["loc"]))
    value = error.get("input")
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    kind: str = error["type"]
    ctx = error.get("ctx") or {}
    if kind.endswith("_type") and kind.removesuffix("_type") in _TYPE_WORDS:
        expected = _TYPE_WORDS[kind.removesuffix("_type")]
        got = "boolean" if isinstance(value, bool) else type(value).__name__
        return f"{where}: expected {expected}, got {got}"
    if kind == "greater_than_equal":
        return f"{where}: {shown} is below the minimum {_number(ctx['ge'])}"
    if kind == "less_than_equal":
        return f"{where}: {shown} is above the maximum {_number(ctx['le'])}"
    if kind == "string_pattern_mismatch":
        return f"{where}: {shown} does not match the pattern {ctx['pattern']}"
    if kind in ("too_long", "string_too_long"):
        return f"{where}: longer than the max_length {ctx.get('max_length')}"
    if kind == "extra_forbidden":
        return f"{where}: not a declared field"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}"


class OutputValidator:
    """Validates one node's outputs against its declarations; see the module docstring."""

    def __init__(self, specs: Mapping[str, OutputSpec], name: str = "outputs") -> None:
        self.specs = dict(specs)
        self.name = name
        self._adapters = {
            column: TypeAdapter(_annotation(spec, f"{name}_{column}"))
            for column, spec in self.specs.items()
        }
        self._schemas: dict[str, dict[str, Any]] | None = None
        # The whole node's outputs as one pydantic model: what the JSON Schema is generated from.
        self.model: type[BaseModel] = _create_model(  # type: ignore[call-overload]
            f"{name}_outputs",
            __config__=_STRICT,
            **{
                column: (
                    _annotation(spec, f"{name}_{column}") | None
                    if spec.optional
                    else _annotation(spec, f"{name}_{column}"),
                    ...,
                )
                for column, spec in self.specs.items()
            },
        )

    def problem(self, column: str, value: Any) -> str | None:
        """Why ``value`` is not a valid value of ``column``, or None when it is."""
        if value is None:
            return None
        found = _non_finite(value, column)
        if found:
            return found
        if isinstance(value, tuple):
            value = list(value)
        try:
            self._adapters[column].validate_python(value)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            return _reason({**first, "loc": (column, *first["loc"])})
        return None

    def check(self, outputs: Mapping[str, Any]) -> dict[str, Any]:
        """The declared columns of ``outputs`` (undeclared ones dropped), or :class:`InvalidOutput`.

        Tuples become lists: what is returned is exactly what the store keeps.
        """
        checked: dict[str, Any] = {}
        for column, spec in self.specs.items():
            value = outputs.get(column)
            if value is None and not spec.optional:
                raise InvalidOutput(
                    f"{column}: missing (the node gave no value for it; declare the output "
                    "optional: true if a row may have none)"
                )
            why = self.problem(column, value)
            if why is not None:
                raise InvalidOutput(why)
            checked[column] = list(value) if isinstance(value, tuple) else value
        return checked

    def column_schemas(self) -> dict[str, dict[str, Any]]:
        """A copy of :meth:`_column_schemas`, generated once: an ``llm`` node asks for every
        row, and pydantic's schema generation cost more than the rest of the node's CPU."""
        if self._schemas is None:
            self._schemas = self._column_schemas()
        return copy.deepcopy(self._schemas)

    def _column_schemas(self) -> dict[str, dict[str, Any]]:
        """Each column's JSON Schema (as pydantic generates it, references inlined).

        ``max_length`` of a string moves into the description: OpenAI's strict
        mode refuses ``maxLength``, and the answer is checked here anyway.
        """
        schema = self.model.model_json_schema()
        defs = schema.get("$defs", {})
        out: dict[str, dict[str, Any]] = {}
        for column, spec in self.specs.items():
            column_schema = _clean(schema["properties"][column], defs)
            if spec.description:
                column_schema["description"] = spec.description
            out[column] = column_schema
        return out


def _clean(schema: Any, defs: Mapping[str, Any]) -> Any:
    """Inline ``$ref``s, drop titles, turn ``anyOf [X, null]`` into a nullable type list."""
    if isinstance(schema, list):
        return [_clean(s, defs) for s in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        return _clean(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("title", "default"):
            continue
        if key == "properties":
            out[key] = {name: _clean(sub, defs) for name, sub in value.items()}
        else:
            out[key] = _clean(value, defs)
    any_of = out.get("anyOf")
    if isinstance(any_of, list) and len(any_of) == 2 and {"type": "null"} in any_of:
        inner = next(s for s in any_of if s != {"type": "null"})
        if isinstance(inner.get("type"), str):
            out.pop("anyOf")
            out.update({**inner, "type": [inner["type"], "null"]})
    if "maxLength" in out:
        limit = out.pop("maxLength")
        note = f"at most {limit} characters"
        out["description"] = f"{out['description']}; {note}" if out.get("description") else note
    return out


_CACHE: dict[str, OutputValidator] = {}


def output_validator(specs: Mapping[str, OutputSpec], name: str = "outputs") -> OutputValidator:
    """The validator of ``specs``, built once per distinct declaration (building costs ~1 ms)."""
    key = json.dumps(
        [name, {c: s.model_dump(mode="json", exclude_none=True) for c, s in specs.items()}],
        sort_keys=True,
    )
    found = _CACHE.get(key)
    if found is None:
        found = _CACHE[key] = OutputValidator(specs, name)
    return found


__all__ = ["InvalidOutput", "OutputValidator", "output_validator"]
