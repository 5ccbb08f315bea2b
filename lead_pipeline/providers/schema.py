"""JSON Schemas for an LLM node's declared outputs, and a validator for their answers.

Strict structured output (OpenAI) requires every object to list all its
properties as required and forbid others; building the schema here keeps that
rule in one place. A workflow's ``llm`` node passes the column schemas its
output validator generates (``workflows.outputs``), constraints included;
direct callers may pass the ``{column: "type"}`` shorthand.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

TYPE_ALIASES = {
    "boolean": "boolean",
    "bool": "boolean",
    "number": "number",
    "float": "number",
    "integer": "integer",
    "int": "integer",
    "string": "string",
    "str": "string",
    "text": "string",
    "array": "array",
    "list": "array",
    "object": "object",
    "dict": "object",
    "null": "null",
}


class SchemaError(ValueError):
    """An output declaration this module cannot turn into a schema."""


def _strict(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of a JSON Schema made acceptable to strict mode, recursively."""
    out = dict(schema)
    types = out.get("type")
    type_set = set(types) if isinstance(types, list) else {types}
    if "object" in type_set:
        props = {k: _strict(v) for k, v in (out.get("properties") or {}).items()}
        out["properties"] = props
        out["required"] = list(props)
        out["additionalProperties"] = False
    if "array" in type_set:
        out["items"] = _strict(out.get("items") or {"type": "string"})
    return out


def type_schema(spec: str | Mapping[str, Any], column: str = "?") -> dict[str, Any]:
    """One column's schema from ``"boolean"``, ``"string?"`` (nullable),
    ``"array[string]"``, or a JSON Schema dict (e.g. an array of objects)."""
    if isinstance(spec, Mapping):
        return _strict(dict(spec))
    text = spec.strip().lower()
    nullable = text.endswith("?")
    text = text.rstrip("?").strip()
    item: dict[str, Any] | None = None
    if text.endswith("]") and "[" in text:
        text, _, inner = text[:-1].partition("[")
        item = type_schema(inner, column)
    name = TYPE_ALIASES.get(text.strip())
    if name is None or (item is not None and name != "array"):
        raise SchemaError(
            f"output {column!r}: unknown type {spec!r}; use one of "
            f"{sorted(set(TYPE_ALIASES.values()))}, 'array[<type>]', a trailing '?' "
            "for nullable, or a JSON Schema object"
        )
    schema: dict[str, Any] = {"type": [name, "null"] if nullable else name}
    if name == "array":
        schema["items"] = item or {"type": "string"}
    if name == "object":
        schema = _strict({**schema, "properties": {}})
    return schema


def build_schema(outputs: Mapping[str, str | Mapping[str, Any]]) -> dict[str, Any]:
    """The object schema of a node's outputs, every column required."""
    if not outputs:
        raise SchemaError("an LLM node needs at least one output column")
    return _strict(
        {
            "type": "object",
            "properties": {col: type_schema(t, col) for col, t in outputs.items()},
        }
    )


def _type_ok(value: Any, name: str) -> bool:
    if name == "boolean":
        return isinstance(value, bool)
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return (
            isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        )
    if name == "string":
        return isinstance(value, str)
    if name == "array":
        return isinstance(value, list)
    if name == "object":
        return isinstance(value, dict)
    if name == "null":
        return value is None
    return False


def validate(value: Any, schema: Mapping[str, Any], path: str = "$") -> list[str]:
    """Problems of ``value`` against the subset of JSON Schema :func:`build_schema`
    emits (type, properties, required, additionalProperties, items, enum,
    minimum, maximum, pattern, maxLength, maxItems). An empty list means valid.

    The answer is checked again by the node's output validator
    (``workflows.outputs``) before it is stored; this check decides whether
    the LLM is asked once more."""
    types = schema.get("type")
    names = types if isinstance(types, list) else [types] if types else []
    if names and not any(_type_ok(value, n) for n in names):
        return [f"{path}: expected {' or '.join(names)}, got {type(value).__name__}"]
    problems: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{path}: {value!r} is not one of {schema['enum']!r}")
    if isinstance(value, str):
        if "pattern" in schema and re.search(schema["pattern"], value) is None:
            problems.append(f"{path}: {value!r} does not match {schema['pattern']!r}")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            problems.append(f"{path}: longer than {schema['maxLength']} characters")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            problems.append(f"{path}: {value} is below {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            problems.append(f"{path}: {value} is above {schema['maximum']}")
    if isinstance(value, dict):
        props: Mapping[str, Any] = schema.get("properties") or {}
        for name in schema.get("required") or []:
            if name not in value:
                problems.append(f"{path}: missing {name!r}")
        if schema.get("additionalProperties") is False:
            problems += [f"{path}: unexpected {k!r}" for k in value if k not in props]
        for name, sub in props.items():
            if name in value:
                problems += validate(value[name], sub, f"{path}.{name}")
    if isinstance(value, list) and "maxItems" in schema and len(value) > schema["maxItems"]:
        problems.append(f"{path}: more than {schema['maxItems']} items")
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for i, item in enumerate(value):
            problems += validate(item, schema["items"], f"{path}[{i}]")
    return problems
