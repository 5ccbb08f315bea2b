"""The one output validator: types, constraints, NaN, and the JSON Schema an LLM is sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lead_pipeline.founders import canonical_profile_url
from lead_pipeline.workflows import WorkflowError, load_workflow_file, load_workflows
from lead_pipeline.workflows.model import OutputSpec
from lead_pipeline.workflows.outputs import InvalidOutput, output_validator

SPECS = {
    "is_b2b": OutputSpec(type="boolean"),
    "conf": OutputSpec(type="number", minimum=0.5, maximum=1),
    "count": OutputSpec(type="integer", minimum=0),
    "reason": OutputSpec(type="string", max_length=10),
    "tier": OutputSpec(type="string", enum=["a", "b"]),
    "level": OutputSpec(type="integer", enum=[1, 2]),
    "code": OutputSpec(type="string", pattern=r"^[A-Z]{2}$"),
    "tags": OutputSpec(type="array", max_length=2),
    "blob": OutputSpec(type="object"),
    "people": OutputSpec.model_validate(
        {"type": "array", "items": {"name": "string", "age": {"type": "integer", "minimum": 0}}}
    ),
}


@pytest.mark.parametrize(
    ("column", "value", "problem"),
    [
        ("is_b2b", True, None),
        ("is_b2b", "true", "is_b2b: expected boolean, got str"),
        ("is_b2b", 1, "is_b2b: expected boolean, got int"),
        ("conf", 0.5, None),
        ("conf", 1, None),
        ("conf", 7, "conf: 7 is above the maximum 1"),
        ("conf", 0.2, "conf: 0.2 is below the minimum 0.5"),
        ("conf", float("nan"), "conf: nan is not a finite number"),
        ("conf", float("inf"), "conf: inf is not a finite number"),
        ("conf", float("-inf"), "conf: -inf is not a finite number"),
        ("conf", True, "conf: expected number, got boolean"),
        ("count", 3, None),
        ("count", 3.0, "count: expected integer, got float"),
        ("count", True, "count: expected integer, got boolean"),
        ("count", -1, "count: -1 is below the minimum 0"),
        ("reason", "x" * 10, None),
        ("reason", "x" * 11, "reason: longer than the max_length 10"),
        ("reason", 7, "reason: expected string, got int"),
        ("reason", "a\x00b", "reason: contains a NUL character"),
        ("tier", "b", None),
        ("tier", "c", "tier: 'c' is not one of ['a', 'b']"),
        ("level", 2, None),
        ("level", True, "level: expected integer, got boolean"),
        ("level", 3, "level: 3 is not one of [1, 2]"),
        ("code", "DE", None),
        ("code", "de", "code: 'de' does not match the pattern ^[A-Z]{2}$"),
        ("tags", ["x", "y"], None),
        ("tags", ("x", "y"), None),
        ("tags", ["x", "y", "z"], "tags: longer than the max_length 2"),
        ("tags", {"x"}, "tags: a set is not a JSON value"),
        ("blob", {"a": [1, {"b": float("nan")}]}, "blob.a[1].b: nan is not a finite number"),
        ("blob", [], "blob: expected object, got list"),
        ("people", [{"name": "Ada", "age": 36}], None),
        ("people", [{"name": "Ada", "age": -1}], "people[0].age: -1 is below the minimum 0"),
        ("people", [{"name": "Ada", "shoe": 9}], "people[0].shoe: not a declared field"),
        ("people", ["Ada"], "people[0]: expected object, got str"),
        ("people", None, None),
    ],
)
def test_values_against_their_declarations(column: str, value: Any, problem: str | None) -> None:
    assert output_validator(SPECS, "t").problem(column, value) == problem


def test_check_keeps_declared_columns_and_raises_the_reason() -> None:
    validator = output_validator({"conf": SPECS["conf"], "tags": SPECS["tags"]}, "t")
    assert validator.check({"conf": 0.7, "tags": ("a",), "stray": 1}) == {
        "conf": 0.7,
        "tags": ["a"],
    }
    with pytest.raises(InvalidOutput, match="conf: 7 is above the maximum 1"):
        validator.check({"conf": 7})


def test_the_llm_schema_carries_the_constraints() -> None:
    schemas = output_validator(SPECS, "t").column_schemas()
    assert schemas["conf"] == {"type": "number", "minimum": 0.5, "maximum": 1}
    assert schemas["tier"] == {"type": "string", "enum": ["a", "b"]}
    assert schemas["code"]["pattern"] == "^[A-Z]{2}$"
    assert "maxLength" not in schemas["reason"]  # strict mode refuses it; said in words
    assert schemas["reason"]["description"] == "at most 10 characters"
    assert schemas["tags"]["maxItems"] == 2
    item = schemas["people"]["items"]
    assert item["additionalProperties"] is False
    assert item["properties"]["age"] == {"type": ["integer", "null"], "minimum": 0}


def test_the_builtin_declarations() -> None:
    workflows = {w.name: w for w in load_workflows()}
    offline = workflows["b2b_only"].nodes[0]
    confidence = offline.spec.outputs["b2b_confidence"]
    assert (confidence.minimum, confidence.maximum) == (0.5, 1)
    extract = next(n for n in workflows["founder_linkedin"].nodes if n.id == "extract")
    validator = output_validator(extract.spec.outputs, "extract")
    person = {"name": "Ada", "title": "CEO", "source_url": "https://example.com"}
    for spelling in (
        "https://uk.linkedin.com/in/Ada-Lovelace/?trk=x",
        "linkedin.com/in/jürgen-müller",
        "https://www.linkedin.com/in/ada_l/details",
    ):
        canonical = canonical_profile_url(spelling)
        assert canonical is not None
        assert validator.problem("founders", [{**person, "linkedin_url": canonical}]) is None
        if canonical != spelling:
            assert validator.problem("founders", [{**person, "linkedin_url": spelling}])


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        ("{x: {type: string, minimum: 1}}", "minimum cannot constrain a string output"),
        ("{x: {type: number, minimum: 2, maximum: 1}}", "minimum 2 is above maximum 1"),
        ("{x: {type: string, pattern: '(['}}", "is not a regular expression"),
        ("{x: {type: boolean, enum: [true]}}", "enum cannot constrain a boolean output"),
        ("{x: {type: integer, items: {a: string}}}", "items cannot constrain a integer output"),
    ],
)
def test_a_misplaced_constraint_is_refused_naming_the_file(
    tmp_path: Path, outputs: str, message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        f"name: bad\nnodes:\n  - id: n\n    type: expression\n    values: {{x: '1'}}\n"
        f"    outputs: {outputs}\n"
    )
    with pytest.raises(WorkflowError) as caught:
        load_workflow_file(path)
    assert message in str(caught.value)
    assert "bad.yaml" in str(caught.value)


def test_a_declared_output_is_required_unless_optional() -> None:
    validator = output_validator(
        {
            "label": OutputSpec(type="string", optional=True),
            "score": OutputSpec(type="integer"),
        },
        "required_test",
    )
    assert validator.check({"score": 1}) == {"label": None, "score": 1}
    for outputs in ({"label": "x"}, {"label": "x", "score": None}, {}):
        with pytest.raises(InvalidOutput, match=r"^score: missing \(the node gave no value"):
            validator.check(outputs)
    # A stored null is not judged invalid: rows written before a column became required.
    assert validator.problem("score", None) is None
    # The LLM is told the optional column may be null, and the required one may not.
    schemas = validator.column_schemas()
    assert schemas["label"]["type"] == ["string", "null"]
    assert schemas["score"]["type"] == "integer"
