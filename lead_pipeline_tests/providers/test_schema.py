"""Output declarations to strict JSON Schema, and validation of answers against them."""

from __future__ import annotations

import pytest

from lead_pipeline.providers import SchemaError, build_schema, validate

FOUNDER = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "title": {"type": "string"},
        "linkedin_url": {"type": "string"},
        "source_url": {"type": "string"},
    },
}


def test_simple_types_and_aliases() -> None:
    schema = build_schema({"a": "bool", "b": "float", "c": "int", "d": "text", "e": "list"})
    assert schema["properties"] == {
        "a": {"type": "boolean"},
        "b": {"type": "number"},
        "c": {"type": "integer"},
        "d": {"type": "string"},
        "e": {"type": "array", "items": {"type": "string"}},
    }
    assert schema["required"] == ["a", "b", "c", "d", "e"]
    assert schema["additionalProperties"] is False


def test_nullable_typed_arrays_and_nested_objects_are_strict() -> None:
    schema = build_schema(
        {
            "reason": "string?",
            "scores": "array[number]",
            "founders": {"type": "array", "items": FOUNDER},
        }
    )
    props = schema["properties"]
    assert props["reason"] == {"type": ["string", "null"]}
    assert props["scores"] == {"type": "array", "items": {"type": "number"}}
    item = props["founders"]["items"]
    assert item["required"] == ["name", "title", "linkedin_url", "source_url"]
    assert item["additionalProperties"] is False


@pytest.mark.parametrize("bad", ["bolean", "array[nope]", "string[string]"])
def test_unknown_types_name_the_column(bad: str) -> None:
    with pytest.raises(SchemaError, match="output 'col'"):
        build_schema({"col": bad})


def test_validation_finds_every_kind_of_problem() -> None:
    schema = build_schema(
        {
            "is_b2b": "boolean",
            "conf": {"type": "number", "minimum": 0, "maximum": 1},
            "founders": {"type": "array", "items": FOUNDER},
        }
    )
    ok = {"is_b2b": True, "conf": 0.5, "founders": [dict.fromkeys(FOUNDER["properties"], "x")]}
    assert validate(ok, schema) == []
    problems = validate(
        {"is_b2b": 1, "conf": 1.5, "founders": [{"name": "Ada"}], "extra": 0}, schema
    )
    text = "\n".join(problems)
    assert "$.is_b2b: expected boolean, got int" in text
    assert "$.conf: 1.5 is above 1" in text
    assert "$.founders[0]: missing 'title'" in text
    assert "unexpected 'extra'" in text
    assert validate({"is_b2b": True, "conf": True, "founders": []}, schema) == [
        "$.conf: expected number, got bool"
    ]
    assert validate("not an object", schema) == ["$: expected object, got str"]
