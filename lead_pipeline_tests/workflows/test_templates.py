"""Sandboxed templates: rendering rules, filters, native values, and refused sandbox escapes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lead_pipeline.workflows.templates import (
    MAX_TEMPLATE_LENGTH,
    Template,
    TemplateError,
    compile_template,
    is_template,
    render,
    render_value,
    template_strings,
)

ROW = {"company": "Acme", "website": "https://www.acme.com/about", "employees": 120}


# --------------------------------------------------------------------------- rendering


def test_render_substitutes_row_fields() -> None:
    template = compile_template("Find the founder of {{ company }} ({{ website | domain }}).")
    assert render(template, ROW) == "Find the founder of Acme (acme.com)."


def test_render_accepts_template_text_and_caches_the_compilation() -> None:
    assert render("{{ company }}!", ROW) == "Acme!"
    assert compile_template("{{ company }}!") is compile_template("{{ company }}!")


def test_autoescape_is_off() -> None:
    assert render("{{ v }}", {"v": "<b>&amp;'\"</b>"}) == "<b>&amp;'\"</b>"


def test_none_renders_as_empty_text() -> None:
    assert render("[{{ v }}]", {"v": None}) == "[]"


def test_control_flow_and_builtin_filters_work() -> None:
    text = "{% for t in tags %}{{ t | upper }}{% if not loop.last %}, {% endif %}{% endfor %}"
    assert render(text, {"tags": ["a", "b"]}) == "A, B"
    assert render("{{ tags | join('/') }}", {"tags": ["a", "b"]}) == "a/b"
    assert render("{% if n > 100 %}big{% else %}small{% endif %}", {"n": 120}) == "big"


def test_params_are_available_under_params() -> None:
    assert render("{{ params.country }}:{{ company }}", ROW, params={"country": "FR"}) == "FR:Acme"


def test_row_values_are_data_not_templates() -> None:
    row = {"bio": "{{ ''.__class__.__mro__ }} {% include 'x' %}"}
    assert render("{{ bio }}", row) == row["bio"]


def test_trailing_newline_is_kept() -> None:
    assert render("{{ company }}\n", ROW) == "Acme\n"


# --------------------------------------------------------------------------- filters


def test_tojson_is_plain_json_not_html_escaped() -> None:
    value = {"name": "A & B <x>", "n": 1, "none": None, "é": "ü"}
    rendered = render("{{ v | tojson }}", {"v": value})
    assert json.loads(rendered) == value
    assert "<x>" in rendered
    assert "ü" in rendered


def test_tojson_indent() -> None:
    assert render("{{ v | tojson(2) }}", {"v": {"a": 1}}) == '{\n  "a": 1\n}'


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://WWW.Example.org:443/x", "example.org"),
        ("jane@startup.io", "startup.io"),
        ("", ""),
        (None, ""),
        ("nonsense value", ""),
    ],
)
def test_domain_filter(value: Any, expected: str) -> None:
    assert render("{{ v | domain }}", {"v": value}) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ v | truncate_words(3) }}", "one two three…"),
        ("{{ v | truncate_words(3, '...') }}", "one two three..."),
        ("{{ v | truncate_words(10) }}", "one two three four five"),
        ("{{ none_value | truncate_words(2) }}", ""),
    ],
)
def test_truncate_words(text: str, expected: str) -> None:
    assert render(text, {"v": "one  two\nthree four five", "none_value": None}) == expected


# --------------------------------------------------------------------------- errors


def test_a_missing_field_is_an_error_not_an_empty_string() -> None:
    template = compile_template("Hello {{ founder_name }}")
    with pytest.raises(TemplateError, match="'founder_name' is undefined"):
        template.render(ROW)


def test_default_and_defined_handle_optional_fields() -> None:
    assert render("{{ founder_name | default('there') }}", ROW) == "there"
    assert render("{% if founder_name is defined %}x{% else %}y{% endif %}", ROW) == "y"


def test_a_missing_key_of_a_nested_value_is_an_error() -> None:
    with pytest.raises(TemplateError, match="has no attribute 'city'"):
        render("{{ address.city }}", {"address": {"street": "x"}})


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("{{ company ", 1, "syntax error"),
        ("line one\n{% if %}", 2, "syntax error"),
        ("{% for x in y %}", 1, "syntax error"),
        ("{{ x | no_such_filter }}", 1, "No filter named 'no_such_filter'"),
    ],
)
def test_syntax_errors_surface_at_compile_time_with_the_line(
    text: str, line: int, message: str
) -> None:
    with pytest.raises(TemplateError) as info:
        compile_template(text)
    assert info.value.line == line
    assert str(info.value).startswith(f"template line {line}: ")
    assert message in str(info.value)


def test_runtime_errors_become_template_errors() -> None:
    with pytest.raises(TemplateError, match="cannot render: ZeroDivisionError"):
        render("{{ 1 / n }}", {"n": 0})


def test_huge_templates_are_refused() -> None:
    with pytest.raises(TemplateError, match=f"more than the {MAX_TEMPLATE_LENGTH} allowed"):
        compile_template("x" * (MAX_TEMPLATE_LENGTH + 1))


def test_non_text_is_refused() -> None:
    with pytest.raises(TemplateError, match="must be text, got int"):
        Template(5)  # type: ignore[arg-type]


def test_fields_lists_the_names_a_template_reads() -> None:
    template = compile_template("{% set x = 1 %}{{ company }} {{ params.a }} {{ x }}{{ y|d('') }}")
    assert template.fields == frozenset({"company", "params", "y"})


# --------------------------------------------------------------------------- sandbox


STATIC_ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ company.__globals__ }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ namespace.__init__.__globals__.__builtins__ }}",
    "{{ range.__self__ }}",
    "{{ company['__class__'] }}",
    "{{ company | attr('__class__') }}",
    "{{ ().__class__.__base__.__subclasses__() }}",
    "{% set c = company.__class__ %}{{ c }}",
    "{% for k in company.__dir__() %}{{ k }}{% endfor %}",
    "{{ request.application.__globals__ }}",
    "{{ config.__class__.__init__.__globals__['os'] }}",
    "{{ x._private }}",
]


@pytest.mark.parametrize("text", STATIC_ESCAPES)
def test_private_attribute_access_is_refused_at_compile_time(text: str) -> None:
    with pytest.raises(TemplateError, match="is not allowed \\(names starting with '_'"):
        compile_template(text)


@pytest.mark.parametrize(
    ("text", "tag"),
    [
        ("{% include 'secrets.txt' %}", "include"),
        ("{% import 'macros' as m %}", "import"),
        ("{% from 'macros' import m %}", "import"),
        ("{% extends 'base' %}", "extends"),
    ],
)
def test_loading_other_templates_is_refused(text: str, tag: str) -> None:
    with pytest.raises(TemplateError, match=f"'{tag}' is not allowed"):
        compile_template(text)


SANDBOX = "refused by the sandbox"
RUNTIME_ESCAPES = [
    # The attribute name is only known at render time, past the static check.
    ("{{ company | attr(key) }}", {"key": "__class__"}, SANDBOX),
    ("{{ company[key] }}", {"key": "__class__"}, SANDBOX),
    ("{{ company[key ~ 'ss__'] }}", {"key": "__cla"}, SANDBOX),
    ("{{ (company | attr(key)) | attr(key) }}", {"key": "__class__"}, SANDBOX),
    # str.format reaching for attributes through the format spec.
    ("{{ '{0.__class__.__mro__}'.format(company) }}", {}, SANDBOX),
    ("{{ '{a.__class__}'.format_map({'a': company}) }}", {}, SANDBOX),
    # Methods that mutate or reach into types.
    ("{{ tags.append('x') }}", {}, SANDBOX),
    ("{{ dict.mro() }}", {}, SANDBOX),
    # Operators and ranges that allocate without bound from a few characters.
    ("{{ 'a' * 10000000 }}", {}, SANDBOX),
    ("{{ [0] * 10000000 }}", {}, SANDBOX),
    ("{{ 10000000 * 'a' }}", {}, SANDBOX),
    ("{{ 9 ** 99999 }}", {}, SANDBOX),
    ("{{ range(10000000) | list | length }}", {}, "Range too big"),
]


@pytest.mark.parametrize(("text", "extra", "message"), RUNTIME_ESCAPES)
def test_dynamic_escapes_are_refused_by_the_sandbox_at_render_time(
    text: str, extra: dict[str, Any], message: str
) -> None:
    template = compile_template(text)
    with pytest.raises(TemplateError) as info:
        template.render({**ROW, "tags": ["a"], **extra})
    assert message in str(info.value)


def test_the_sandbox_keeps_row_values_unchanged() -> None:
    row = {"tags": ["a"], "meta": {"k": 1}}
    for text in ("{{ tags.append('x') }}", "{{ meta.update({'k': 2}) }}", "{{ meta.clear() }}"):
        with pytest.raises(TemplateError):
            render(text, row)
    assert row == {"tags": ["a"], "meta": {"k": 1}}


def test_modest_repetition_and_powers_still_work() -> None:
    assert render("{{ '-' * 3 }}|{{ 2 ** 10 }}|{{ [1] * 2 }}", {}) == "---|1024|[1, 1]"


def test_globals_that_only_widen_the_surface_are_gone() -> None:
    for name in ("lipsum", "cycler", "joiner"):
        with pytest.raises(TemplateError, match=f"'{name}' is undefined"):
            render(f"{{{{ {name} }}}}", {})


# --------------------------------------------------------------------------- render_value


def test_render_value_renders_every_string_in_nested_structures() -> None:
    obj = {
        "query": "{{ company }} founder",
        "filters": [{"domain": "{{ website | domain }}"}, "static", 5, None, True],
        "nested": {"deep": ("{{ employees }}", "x")},
        "{{ company }}": "keys are not templates",
    }
    assert render_value(obj, ROW) == {
        "query": "Acme founder",
        "filters": [{"domain": "acme.com"}, "static", 5, None, True],
        "nested": {"deep": ["120", "x"]},
        "{{ company }}": "keys are not templates",
    }


def test_render_value_native_keeps_types_of_single_expressions() -> None:
    row = {**ROW, "tags": ["a", "b"], "missing_value": None}
    body = {
        "size": "{{ employees }}",
        "tags": "{{ tags }}",
        "next": "{{ employees + 1 }}",
        "none": "{{ missing_value }}",
        "text": "{{ employees }} people",
        "two": "{{ employees }}{{ employees }}",
        "padded": " {{ employees }}",
        "param": "{{ params.limit }}",
    }
    rendered = render_value(body, row, params={"limit": 10}, native=True)
    assert rendered == {
        "size": 120,
        "tags": ["a", "b"],
        "next": 121,
        "none": None,
        "text": "120 people",
        "two": "120120",
        "padded": " 120",
        "param": 10,
    }
    assert json.loads(json.dumps(rendered)) == rendered


def test_native_rendering_is_still_sandboxed_and_strict() -> None:
    with pytest.raises(TemplateError, match="'nope' is undefined"):
        render_value("{{ nope }}", ROW, native=True)
    with pytest.raises(TemplateError, match="refused by the sandbox"):
        render_value("{{ company[key] }}", {**ROW, "key": "__class__"}, native=True)
    with pytest.raises(TemplateError, match="refused by the sandbox"):
        render_value("{{ 'a' * 10000000 }}", ROW, native=True)


def test_render_value_leaves_plain_strings_alone_without_compiling() -> None:
    assert render_value("no markup {here}", {}) == "no markup {here}"
    assert render_value(b"bytes", {}) == b"bytes"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("{{ a }}", True), ("{% if a %}{% endif %}", True), ("{# note #}", True), ("{a}", False)],
)
def test_is_template(text: str, expected: bool) -> None:
    assert is_template(text) is expected


def test_template_strings_walks_with_readable_paths() -> None:
    obj = {
        "url": "{{ a }}",
        "headers": {"X": "{{ b }}", "Y": "plain"},
        "body": [1, {"q": "{{ c }}"}],
    }
    assert list(template_strings(obj)) == [
        ("url", "{{ a }}"),
        ("headers.X", "{{ b }}"),
        ("body[1].q", "{{ c }}"),
    ]


# --------------------------------------------------------------------------- bounded work

# Every way we know of to build a huge value, or to run for minutes, from a short template.
# Each must be refused well before it allocates gigabytes or runs past the time budget.
BOMBS = {
    "nested loops with an empty body": (
        "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"
    ),
    "three nested loops": "{% for a in range(999) %}{% for b in range(999) %}"
    "{% for c in range(999) %}{% endfor %}{% endfor %}{% endfor %}",
    "nested loops printing": "{% for a in range(99999) %}{% for b in range(99999) %}x"
    "{% endfor %}{% endfor %}",
    "loops over a repeated string": "{% for a in 'x' * 99999 %}{% for b in 'x' * 99999 %}"
    "{% endfor %}{% endfor %}",
    "printf width": "{{ '%999999999s'|format('x') }}",
    "printf width from an argument": "{{ '%*s'|format(999999999, 'x') }}",
    "printf precision": "{{ '%.999999999f'|format(1.5) }}",
    "% operator width": "{{ '%999999999d' % 1 }}",
    "% operator named width": "{{ '%(a)999999999s' % {'a': 1} }}",
    "str.format width": "{{ '{:999999999}'.format(1) }}",
    "str.format nested width": "{{ '{:{}}'.format(1, 999999999) }}",
    "str.format_map width": "{{ '{a:>999999999}'.format_map({'a': 1}) }}",
    "center method": "{{ 'x'.center(10**9) }}",
    "center filter": "{{ 'x'|center(10**9) }}",
    "ljust": "{{ 'x'.ljust(999999999) }}",
    "rjust": "{{ 'x'.rjust(999999999, '-') }}",
    "zfill": "{{ '1'.zfill(999999999) }}",
    "expandtabs": "{{ '\t\t'.expandtabs(999999999) }}",
    "replace the empty string": "{{ ('x' * 99999).replace('', 'y' * 99999) }}",
    "replace filter": "{{ ('x' * 99999)|replace('x', 'y' * 99999) }}",
    "join a range with a long separator": "{{ range(99999)|join('y' * 99999) }}",
    "str.join": "{{ ('y' * 99999).join(range(99999)|map('string')) }}",
    "indent": "{{ 'x'|indent(999999999) }}",
    "indent many lines": "{{ ('\n' * 99999)|indent(99999) }}",
    "wordwrap": "{{ 'x'|wordwrap(999999999) }}",
    "batch padding": "{{ [1]|batch(999999999, 0)|list }}",
    "slice count": "{{ [1]|slice(999999999)|list }}",
    "tojson indent": "{{ {'a': [1]}|tojson(indent=999999999) }}",
    "doubling with ~": "{% set ns = namespace(s='x') %}{% for i in range(64) %}"
    "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
    "doubling with +": "{% set ns = namespace(s='x') %}{% for i in range(64) %}"
    "{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s|length }}",
    "doubling a list": "{% set ns = namespace(s=[1]) %}{% for i in range(64) %}"
    "{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s|length }}",
    "doubling with a set block": "{% set ns = namespace(s='x') %}{% for i in range(64) %}"
    "{% set ns.s %}{{ ns.s }}{{ ns.s }}{% endset %}{% endfor %}{{ ns.s|length }}",
    "doubling with join": "{% set ns = namespace(s='x') %}{% for i in range(64) %}"
    "{% set ns.s = [ns.s, ns.s]|join %}{% endfor %}{{ ns.s|length }}",
    "doubling with format": "{% set ns = namespace(s='x') %}{% for i in range(64) %}"
    "{% set ns.s = '%s%s'|format(ns.s, ns.s) %}{% endfor %}{{ ns.s|length }}",
    "doubling with replace": "{% set ns = namespace(s='x') %}{% for i in range(64) %}"
    "{% set ns.s = ns.s|replace('x', 'xx') %}{% endfor %}{{ ns.s|length }}",
    "doubling with *": "{% set ns = namespace(s='x') %}{% for i in range(64) %}"
    "{% set ns.s = ns.s * 2 %}{% endfor %}{{ ns.s|length }}",
    "repeated squaring": "{% set ns = namespace(n=10) %}{% for i in range(64) %}"
    "{% set ns.n = ns.n * ns.n %}{% endfor %}{{ ns.n }}",
    "repeated powers": "{% set ns = namespace(n=10**64) %}{% for i in range(9) %}"
    "{% set ns.n = ns.n ** 64 %}{% endfor %}{{ ns.n }}",
    "power of a power": "{{ ((10**64)**64)**64 }}",
    "a huge range": "{{ range(10**9)|list }}",
    "recursion": "{% macro f(n) %}{{ f(n) }}{{ f(n) }}{% endmacro %}{{ f(1) }}",
    "a huge output": "{% for i in range(99999) %}{{ 'x' * 99999 }}{% endfor %}",
    "a huge capture": "{% set x %}{% for i in range(99999) %}{{ 'x' * 99999 }}{% endfor %}"
    "{% endset %}{{ x|length }}",
    "many large values": "{{ range(99999)|map('string')|map('center', 99999)|join }}",
    "growth in steps": "{% set ns = namespace(s='x' * 99999) %}{% for i in range(200) %}"
    "{% set ns.s = ns.s ~ 'x' * 99999 %}{% endfor %}{{ ns.s|length }}",
}


@pytest.mark.parametrize("text", list(BOMBS.values()), ids=list(BOMBS))
def test_every_way_of_building_a_huge_value_is_refused(text: str) -> None:
    with pytest.raises(TemplateError, match=r"refused by the sandbox|Range too big|Recursion"):
        render(text, {})


@pytest.mark.parametrize(
    "text", [BOMBS["doubling with ~"], BOMBS["repeated squaring"], BOMBS["printf width"]]
)
def test_native_rendering_is_bounded_too(text: str) -> None:
    body = text.replace("{{ ns.s|length }}", "").replace("{{ ns.n }}", "")
    with pytest.raises(TemplateError, match="refused by the sandbox"):
        render_value({"a": text, "b": body or "{{ 1 }}"}, {}, native=True)
    with pytest.raises(TemplateError, match="refused by the sandbox"):
        render_value("{{ '%999999999s' % n }}", {"n": 1}, native=True)


def test_row_values_cannot_drive_a_template_past_its_budget() -> None:
    loops = "{% for a in range(n) %}{% for b in range(n) %}{% endfor %}{% endfor %}{{ name }}"
    assert render(loops, {"n": 10, "name": "Acme"}) == "Acme"
    with pytest.raises(TemplateError, match="took more than"):
        render(loops, {"n": 99999, "name": "Acme"})
    with pytest.raises(TemplateError, match="would build"):
        render("{{ name|center(width) }}", {"name": "Acme", "width": 10**9})


def test_ordinary_large_work_stays_within_the_budget() -> None:
    """The limits are far above what a prompt, URL or body needs."""
    page = "word " * 150_000  # a 750,000-character page text
    assert len(render("Summarise: {{ page }}", {"page": page})) == len(page) + 11
    rows = render("{% for i in range(20000) %}{{ i }},{% endfor %}", {})
    assert rows.count(",") == 20000
    assert render("{{ 2 ** 64 * 3 }} {{ ('ab' * 1000) | length }}", {}) == f"{2**64 * 3} 2000"
    assert render("{{ items|join(', ') }}", {"items": [str(i) for i in range(10000)]})
