"""The ``where`` / expression language: every construct, its null rules, and every refusal."""

from __future__ import annotations

from typing import Any

import pytest

from lead_pipeline.domains import host_of as normalise_domain
from lead_pipeline.workflows.expressions import (
    FUNCTIONS,
    MAX_DEPTH,
    MAX_LENGTH,
    ExpressionError,
    ExpressionEvaluationError,
    compile_expression,
    compile_where,
)


def value(text: str, row: dict[str, Any] | None = None, **params: Any) -> Any:
    return compile_expression(text).evaluate(row or {}, params)


def where(text: str, row: dict[str, Any] | None = None, **params: Any) -> bool:
    return compile_where(text).evaluate(row or {}, params)


# --------------------------------------------------------------------------- literals


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("42", 42),
        ("3.5", 3.5),
        ("1e3", 1000.0),
        ("2.5E-1", 0.25),
        ("'single'", "single"),
        ('"double"', "double"),
        (r"'it\'s'", "it's"),
        (r'"say \"hi\""', 'say "hi"'),
        (r"'a\\b'", "a\\b"),
        (r"'line\nbreak\ttab'", "line\nbreak\ttab"),
        ("''", ""),
        ("true", True),
        ("false", False),
        ("null", None),
        ("[1, 'a', null, true]", [1, "a", None, True]),
        ("[]", []),
        ("-5", -5),
        ("+5", 5),
        ("--5", 5),
    ],
)
def test_literals(text: str, expected: Any) -> None:
    result = value(text)
    assert result == expected
    assert type(result) is type(expected)


def test_columns_and_params_are_read_and_reported() -> None:
    expr = compile_expression("lower(company) + ' ' + city + params.suffix")
    assert expr.columns == frozenset({"company", "city"})
    assert expr.params == frozenset({"suffix"})
    assert expr.evaluate({"company": "ACME", "city": "Paris"}, {"suffix": "!"}) == "acme Paris!"


def test_missing_column_and_missing_param_read_as_null() -> None:
    assert value("nope") is None
    assert value("params.nope") is None
    assert where("nope is null")
    assert where("params.nope is null")


def test_params_default_to_empty_when_not_given() -> None:
    assert compile_where("params.x is null").evaluate({"a": 1}) is True


# --------------------------------------------------------------------------- arithmetic


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("10 - 4 - 3", 3),  # left to right
        ("12 / 4 / 3", 1.0),
        ("7 / 2", 3.5),
        ("-(2 + 3)", -5),
        ("2 * -3", -6),
        ("'ab' + 'cd'", "abcd"),
        ("n + 1", 11),  # numeric text from a CSV cell takes part in arithmetic
        ("n * 1.5", 15.0),
        ("null + 1", None),
        ("missing * 2", None),
        ("-missing", None),
    ],
)
def test_arithmetic(text: str, expected: Any) -> None:
    assert value(text, {"n": "10"}) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("'abc' - 1", "cannot subtract text and number"),
        ("'abc' * 3", "cannot multiply text and number"),
        ("1 + 'x'", "cannot add number and text"),
        ("true + 1", "cannot add boolean and number"),
        ("[1] + [2]", "cannot add list and list"),
        ("n / 0", "division by zero"),
        ("-'x'", "cannot negate text"),
    ],
)
def test_arithmetic_errors_name_the_position(text: str, message: str) -> None:
    with pytest.raises(ExpressionEvaluationError) as info:
        value(text, {"n": 4})
    assert message in str(info.value)
    assert info.value.column is not None
    assert f"at column {info.value.column} in expression: {text}" in str(info.value)


def test_a_filter_that_hits_a_data_error_does_not_match_instead_of_raising() -> None:
    check = compile_where("n / d > 1")
    assert check.evaluate({"n": 4, "d": 2}) is True
    assert check.evaluate({"n": 4, "d": 0}) is False
    assert check.evaluate({"n": "lots", "d": 2}) is False


# --------------------------------------------------------------------------- comparisons


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a == 1", True),
        ("a != 1", False),
        ("a < 2", True),
        ("a <= 1", True),
        ("a > 0", True),
        ("a >= 2", False),
        ("s == 'x'", True),
        ("s != 'y'", True),
        ("s < 'y'", True),
        ("s >= 'y'", False),
        ("num_text == 120", True),  # "120" from a CSV equals the number 120
        ("num_text > 100", True),
        ("num_text == '120'", True),
        ("flag == true", True),
        ("flag_text == true", True),  # "TRUE" from a CSV
        ("flag_text != false", True),
        ("s == 1", False),  # unrelated types are unequal...
        ("s != 1", True),
        ("s < 1", False),  # ...and never ordered
        ("flag == 1", False),  # a boolean is not a number
        ("lst == [1, 2]", True),
        ("lst == ['1', 2]", True),
        ("lst < [3]", False),
        ("obj == obj", True),
    ],
)
def test_comparisons(text: str, expected: bool) -> None:
    row = {
        "a": 1,
        "s": "x",
        "num_text": "120",
        "flag": True,
        "flag_text": "TRUE",
        "lst": [1, 2],
        "obj": {"k": 1},
    }
    assert where(text, row) is expected


@pytest.mark.parametrize(
    "text",
    ["x == 1", "x != 1", "x < 1", "x <= 1", "x > 1", "x >= 1", "x == y", "x != y", "1 != x"],
)
def test_every_comparison_with_null_is_false(text: str) -> None:
    assert where(text, {"x": None, "y": None}) is False
    assert where(text, {}) is False


@pytest.mark.parametrize(
    ("text", "row", "expected"),
    [
        ("x is null", {}, True),
        ("x is null", {"x": None}, True),
        ("x is null", {"x": ""}, False),
        ("x is not null", {"x": 0}, True),
        ("x is not null", {}, False),
        ("x == null", {}, True),
        ("null == x", {"x": None}, True),
        ("x == null", {"x": "a"}, False),
        ("x != null", {"x": "a"}, True),
        ("x != null", {}, False),
        ("null == null", {}, True),
    ],
)
def test_null_tests(text: str, row: dict[str, Any], expected: bool) -> None:
    assert where(text, row) is expected


# --------------------------------------------------------------------------- in / not in


@pytest.mark.parametrize(
    ("text", "row", "expected"),
    [
        ("c in ['US', 'CA']", {"c": "US"}, True),
        ("c in ['US', 'CA']", {"c": "FR"}, False),
        ("c not in ['US', 'CA']", {"c": "FR"}, True),
        ("c not in ['US', 'CA']", {"c": "US"}, False),
        ("n in [1, 2]", {"n": "2"}, True),  # same coercion as ==
        ("c in []", {"c": "US"}, False),
        ("c in ['US']", {}, False),  # null is in nothing...
        ("c not in ['US']", {}, False),  # ...and not-in nothing either
        ("c in [null]", {}, False),
        ("c in params.allowed", {"c": "b"}, True),
        ("'cme' in name", {"name": "Acme"}, True),  # substring test on text
        ("'x' in name", {"name": "Acme"}, False),
        ("'x' not in name", {"name": "Acme"}, True),
        ("c in other", {"c": "a", "other": None}, False),
        ("c in 5", {"c": 5}, False),
        ("c in [lower(d), 'z']", {"c": "q", "d": "Q"}, True),
    ],
)
def test_membership(text: str, row: dict[str, Any], expected: bool) -> None:
    assert where(text, row, allowed=["a", "b"]) is expected


# --------------------------------------------------------------------------- logic


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("t and t", True),
        ("t and f", False),
        ("f or t", True),
        ("f or f", False),
        ("not f", True),
        ("not not t", True),
        ("t or f and f", True),  # and binds tighter than or
        ("(t or f) and f", False),
        ("not t or t", True),  # not binds tighter than or
        ("not (t or t)", False),
        ("not a == 1", False),  # not applies to the whole comparison
        ("missing or t", True),
        ("not missing", True),
        ("zero or empty or no_text", False),  # 0, '' and 'false' are falsy
        ("text and lst", True),
        ("t and a == 1 and s in ['x']", True),
    ],
)
def test_logic(text: str, expected: bool) -> None:
    row = {
        "t": True,
        "f": False,
        "a": 1,
        "s": "x",
        "zero": 0,
        "empty": "",
        "no_text": "False",
        "text": "acme",
        "lst": [1],
    }
    assert where(text, row) is expected


def test_or_short_circuits_past_a_bad_operand() -> None:
    assert where("true or (1 / 0 > 1)") is True
    assert where("false and 'x' - 1 > 0") is False


def test_logic_in_a_value_expression_gives_booleans() -> None:
    assert value("a and b", {"a": 1, "b": "x"}) is True
    assert value("a or b", {}) is False


# --------------------------------------------------------------------------- functions


@pytest.mark.parametrize(
    ("text", "row", "expected"),
    [
        ("lower(x)", {"x": "AcMe"}, "acme"),
        ("upper(x)", {"x": "AcMe"}, "ACME"),
        ("lower(x)", {}, None),
        ("upper(x)", {"x": 12}, "12"),
        ("len(x)", {"x": "abcd"}, 4),
        ("len(x)", {"x": [1, 2]}, 2),
        ("len(x)", {"x": {"a": 1}}, 1),
        ("len(x)", {}, None),
        ("coalesce(a, b, 'z')", {"a": None, "b": "B"}, "B"),
        ("coalesce(a, b, 'z')", {"a": "", "b": None}, "z"),  # empty cells count as missing
        ("coalesce(a)", {}, None),
        ("coalesce(a, 0)", {"a": None}, 0),
        ("contains(x, 'cm')", {"x": "Acme"}, True),
        ("contains(x, 'zz')", {"x": "Acme"}, False),
        ("contains(x, 2)", {"x": [1, "2"]}, True),
        ("contains(x, 'a')", {}, False),
        ("contains(x, null)", {"x": "a"}, False),
        ("contains(x, 'a')", {"x": 5}, False),
        ("startswith(x, 'https')", {"x": "https://a"}, True),
        ("startswith(x, 'ftp')", {"x": "https://a"}, False),
        ("startswith(x, 'a')", {}, False),
        ("domain(x)", {"x": "https://WWW.Acme.com:8080/about?q=1"}, "acme.com"),
        ("domain(x)", {"x": "acme.io/path"}, "acme.io"),
        ("domain(x)", {"x": "bob@Example.ORG"}, "example.org"),
        ("domain(x)", {"x": "http://user:pw@sub.acme.co.uk/"}, "sub.acme.co.uk"),
        ("domain(x)", {"x": "not a url"}, None),
        ("domain(x)", {"x": ""}, None),
        ("domain(x)", {"x": 5}, None),
        ("domain(x)", {}, None),
        ("round(x)", {"x": 2.6}, 3),
        ("round(x, 2)", {"x": "3.14159"}, 3.14),
        ("round(x, 1)", {}, None),
        ("lower(coalesce(a, b))", {"b": "X"}, "x"),
    ],
)
def test_functions(text: str, row: dict[str, Any], expected: Any) -> None:
    assert value(text, row) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("len(5)", "len() needs text or a list, got number"),
        ("lower(true)", "lower() needs text, got boolean"),
        ("round('abc')", "round() needs a number, got text"),
        ("round(1.5, 99)", "second argument must be a whole number"),
        ("round(1.5, 'a')", "second argument must be a whole number"),
    ],
)
def test_function_errors(text: str, message: str) -> None:
    with pytest.raises(
        ExpressionEvaluationError, match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        value(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lower()", "lower() takes 1 argument, got 0"),
        ("lower(a, b)", "lower() takes 1 argument, got 2"),
        ("contains(a)", "contains() takes 2 arguments, got 1"),
        ("round(a, 1, 2)", "round() takes 1 to 2 arguments, got 3"),
        ("coalesce()", "coalesce() takes at least 1 arguments, got 0"),
    ],
)
def test_function_arity_is_checked_at_compile_time(text: str, message: str) -> None:
    with pytest.raises(ExpressionError) as info:
        compile_expression(text)
    assert message in str(info.value)
    assert info.value.column == 1


def test_every_whitelisted_function_is_tested() -> None:
    tested = {"lower", "upper", "len", "coalesce", "contains", "startswith", "domain", "round"}
    assert set(FUNCTIONS) == tested


def test_normalise_domain_strips_trailing_dot_and_refuses_odd_hosts() -> None:
    assert normalise_domain("https://acme.com./x") == "acme.com"
    assert normalise_domain("http://[::1") is None
    assert normalise_domain("https://") is None


# --------------------------------------------------------------------------- where rules


@pytest.mark.parametrize("text", ["price * 2", "-price", "'yes'", "42", "[1, 2]"])
def test_a_filter_must_be_a_condition(text: str) -> None:
    with pytest.raises(ExpressionError, match="a filter must be a condition"):
        compile_where(text)


@pytest.mark.parametrize(
    ("text", "row", "expected"),
    [
        ("is_b2b", {"is_b2b": True}, True),
        ("is_b2b", {"is_b2b": "false"}, False),
        ("is_b2b", {}, False),
        ("true", {}, True),
        ("lower(x)", {"x": "Y"}, True),
    ],
)
def test_a_bare_value_filter_uses_truthiness(
    text: str, row: dict[str, Any], expected: bool
) -> None:
    result = where(text, row)
    assert result is expected


def test_compiled_expressions_are_cached_by_text() -> None:
    assert compile_where("a == 1") is compile_where("a == 1")
    assert compile_expression("a + 1") is compile_expression("a + 1")
    assert compile_where("a == 1") is not compile_expression("a == 1")


def test_expression_is_callable_and_has_a_readable_repr() -> None:
    expr = compile_where("a == 1")
    assert expr({"a": 1}) is True
    assert repr(expr) == "<where 'a == 1'>"


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("text", "column", "message"),
    [
        ("__import__('os')", 1, "unexpected '__import__'"),
        ("__import__('os').system('id')", 1, "names containing '__' are not allowed"),
        ("a.__class__", 2, "attribute access is not allowed"),
        ("a.b", 2, "unexpected '.'"),
        ("name.lower()", 5, "attribute access is not allowed"),
        ("a[0]", 2, "indexing is not allowed"),
        ("params['x']", 7, "write params.NAME"),
        ("params", 7, "unexpected end of expression"),
        ("params.__dict__", 8, "unexpected '__dict__'"),
        ("open('x')", 1, "unknown function 'open'"),
        ("eval('1')", 1, "unknown function 'eval'"),
        ("getattr(a, 'b')", 1, "unknown function 'getattr'"),
        ("x == import os", 6, "unexpected 'import'"),
        ("lambda: 1", 1, "unexpected 'lambda'"),
        ("[x for x in y]", 4, "unexpected 'for'"),
        ("a if b else c", 3, "unexpected 'if'"),
        ("True", 1, "write true"),
        ("x == None", 6, "write null"),
        ("x = 1", 3, "use == to compare"),
        ("a && b", 3, "use 'and'"),
        ("a || b", 3, "use 'or'"),
        ("!a", 1, "use 'not'"),
        ("a % 2", 3, "no modulo"),
        ("{'a': 1}", 1, "dictionaries are not supported"),
        ("a ** 2", 4, "unexpected '*'"),
        ("a; b", 2, "unexpected character ';'"),
        ("'unterminated", 1, "unterminated string"),
        ("'bad \\q escape'", 6, "unknown escape \\q"),
        ("(a == 1", 8, "unexpected end of expression"),
        ("a == 1)", 7, "unexpected ')'"),
        ("a == ", 6, "unexpected end of expression"),
        ("a b", 3, "an operator such as ==, and, or is missing"),
        ("a < b < c", 7, "comparisons cannot be chained"),
        ("a == b is null", 8, "comparisons cannot be chained"),
        ("a is 5", 6, "'is' must be followed by null"),
        ("a not b", 3, "unexpected 'not'"),
        ("and", 1, "unexpected 'and'"),
        ("[1, 2", 6, "unexpected end of expression"),
        ("lower(a", 8, "to close the call to lower"),
        ("f'{a}'", 2, "unexpected"),
    ],
)
def test_text_outside_the_grammar_is_refused_with_its_position(
    text: str, column: int, message: str
) -> None:
    with pytest.raises(ExpressionError) as info:
        compile_where(text)
    error = info.value
    assert message in str(error)
    assert error.column == column
    assert f"at column {column} in where: {text}" in str(error)


def test_refusals_are_not_evaluation_errors() -> None:
    with pytest.raises(ExpressionError) as info:
        compile_where("open('x')")
    assert not isinstance(info.value, ExpressionEvaluationError)


def test_the_label_names_the_field_in_the_message() -> None:
    with pytest.raises(ExpressionError, match=r"unexpected '\)' at column 1 in when: \)"):
        compile_where(")", label="when")


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_empty_expressions_are_refused(text: str) -> None:
    with pytest.raises(ExpressionError, match="expression is empty"):
        compile_where(text)


def test_non_text_is_refused() -> None:
    with pytest.raises(ExpressionError, match="expected text, got int"):
        compile_where(5)  # type: ignore[arg-type]


def test_huge_input_is_refused_before_parsing() -> None:
    text = "a == 1 or " * 500 + "a == 2"
    assert len(text) > MAX_LENGTH
    with pytest.raises(ExpressionError) as info:
        compile_where(text)
    assert f"more than the {MAX_LENGTH} allowed" in str(info.value)
    assert len(str(info.value)) < 400  # the message quotes an excerpt, not the whole text


@pytest.mark.parametrize(
    "build",
    [
        lambda n: "(" * n + "a" + ")" * n,
        lambda n: "not " * n + "a",
        lambda n: "-" * n + "a",
        lambda n: "[" * n + "]" * n,
        lambda n: "lower(" * n + "a" + ")" * n,
    ],
)
def test_nesting_depth_is_bounded(build: Any) -> None:
    compile_expression(build(MAX_DEPTH))  # the limit itself is fine
    with pytest.raises(ExpressionError, match=f"nests deeper than {MAX_DEPTH} levels"):
        compile_expression(build(MAX_DEPTH + 1))
    with pytest.raises(ExpressionError, match="nests deeper"):
        compile_expression(build(250))  # never a RecursionError


def test_long_flat_chains_evaluate_without_deep_recursion() -> None:
    # Within the length limit; operands of one precedence level are a loop, not a tree.
    terms = 450
    expr = compile_expression(" + ".join(["a"] * terms))
    assert expr.evaluate({"a": 1}) == terms
    check = compile_where(" or ".join(["a == 2"] * 180))
    assert check.evaluate({"a": 2}) is True


def test_an_error_position_is_right_on_a_second_line() -> None:
    with pytest.raises(ExpressionError) as info:
        compile_where("a == 1 and\n  b.c")
    assert info.value.column == 15


# --------------------------------------------------------------------------- bounded arithmetic


def _squares(depth: int) -> str:
    """``((x*x)*(x*x))*...``: each level squares the last, as long as the text allows."""
    text = "x"
    for _ in range(depth):
        text = f"({text})*({text})"
    return text


@pytest.mark.parametrize(
    ("text", "row", "message"),
    [
        # Repeated squaring of a row's big number: 2**7 copies of a 6,000-digit number.
        (_squares(7), {"x": 10**5000}, "bits"),
        (_squares(8), {"x": 10**40}, "bits"),
        (" * ".join(["x"] * 400), {"x": 10**300}, "bits"),
        ("x * 1", {"x": 10**10000}, "bits"),
        ("x / 3", {"x": 10**400}, "too large"),
        ("x * 1.5", {"x": 10**400}, "too large"),
        # Text added to itself: 400 copies of a 100,000-character cell.
        (" + ".join(["x"] * 400), {"x": "a" * 100_000}, "longer than"),
        ("(x + x) + (x + x)", {"x": "a" * 300_000}, "longer than"),
    ],
)
def test_arithmetic_cannot_build_huge_values(text: str, row: dict[str, Any], message: str) -> None:
    assert len(text) <= MAX_LENGTH
    with pytest.raises(ExpressionEvaluationError, match=message):
        value(text, row)


def test_ordinary_arithmetic_on_big_values_still_works() -> None:
    assert value("x * x", {"x": 10**100}) == 10**200
    assert value("x + x", {"x": "a" * 400_000}) == "a" * 800_000
    assert value("x / 4", {"x": 10**300}) == 2.5e299
