"""Loading workflow files: every refusal names file, node and field; the set orders by needs."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import ClassVar

import pytest
from pydantic import Field

from lead_pipeline.workflows.compiled import PlainKind, UncheckedConfig
from lead_pipeline.workflows.errors import UnknownWorkflowError, WorkflowError
from lead_pipeline.workflows.loader import (
    BUILTIN_DIR,
    MAX_FILE_BYTES,
    WorkflowSet,
    load_workflow_file,
    load_workflows,
    parse_workflow,
)
from lead_pipeline.workflows.model import NodeConfigBase


@pytest.fixture(autouse=True)
def _relative_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Messages show paths relative to the working directory, as a user sees them.
    monkeypatch.chdir(tmp_path)


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def workflow(name: str, *, needs: str = "[]", where: str = "", outputs: str = "") -> str:
    where_line = f"where: {where}\n" if where else ""
    return (
        f"name: {name}\nneeds: {needs}\n{where_line}"
        f"nodes:\n  - id: step\n    type: http\n    url: 'https://x.test/{{{{ company }}}}'\n"
        f"    outputs: {{{outputs or name + '_out'}: string}}\n"
    )


def problems_of(excinfo: pytest.ExceptionInfo[WorkflowError]) -> list[str]:
    return excinfo.value.problems


class HttpConfig(NodeConfigBase):
    method: str = "GET"
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: float = Field(default=30.0, gt=0)


class PromptConfig(NodeConfigBase):
    """Only ``prompt`` is a template; ``jmes`` holds braces that are not Jinja."""

    template_fields: ClassVar[tuple[str, ...]] = ("prompt",)

    prompt: str
    jmes: str = ""


class ComputeConfig(NodeConfigBase):
    expression_fields: ClassVar[tuple[str, ...]] = ("values", "check")

    values: dict[str, str]
    check: str = "true"


NODE_TYPES: dict[str, PlainKind] = {
    name: PlainKind(name, config_model=model)
    for name, model in (("http", HttpConfig), ("prompt", PromptConfig), ("compute", ComputeConfig))
}


# --------------------------------------------------------------------------- happy path


def test_loads_orders_and_answers_queries(tmp_path: Path) -> None:
    user = tmp_path / "wf"
    write(user, "a_enrich.yaml", workflow("enrich", needs="[classify, people]"))
    write(user, "b_classify.yaml", workflow("classify", outputs="is_b2b"))
    write(user, "c_people.yaml", workflow("people", needs="[classify]"))
    write(user, "d_solo.yml", workflow("solo"))

    workflows = load_workflows([user], node_types=NODE_TYPES)

    assert workflows.names() == ["classify", "people", "enrich", "solo"]
    assert [spec.name for spec in workflows.ordered()] == workflows.names()
    assert [spec.name for spec in workflows] == workflows.names()
    assert len(workflows) == 4
    assert "people" in workflows
    assert "nobody" not in workflows
    assert workflows.get("people").spec.needs == ["classify"]
    assert workflows.get("people").spec.source == user / "c_people.yaml"
    assert [s.name for s in workflows.upstream_closure("enrich")] == [
        "classify",
        "people",
        "enrich",
    ]
    assert [s.name for s in workflows.upstream_closure("classify")] == ["classify"]
    assert workflows.output_owners()["is_b2b"] == ("classify", "step")
    assert not workflows.is_builtin("solo")
    (node,) = workflows.get("people").nodes
    config = node.config
    assert node.node_type is NODE_TYPES["http"]
    assert isinstance(config, HttpConfig)
    assert config.url == "https://x.test/{{ company }}"


def test_order_is_stable_and_follows_the_listed_needs(tmp_path: Path) -> None:
    user = tmp_path / "wf"
    write(user, "1.yaml", workflow("z_last", needs="[m_mid, a_first]"))
    write(user, "2.yaml", workflow("m_mid"))
    write(user, "3.yaml", workflow("a_first"))
    write(user, "4.yaml", workflow("other"))
    first = load_workflows([user]).names()
    assert first == ["m_mid", "a_first", "z_last", "other"]
    assert load_workflows([user]).names() == first


def test_unknown_workflow_lists_the_known_ones(tmp_path: Path) -> None:
    write(tmp_path / "wf", "a.yaml", workflow("alpha"))
    workflows = load_workflows([tmp_path / "wf"])
    with pytest.raises(UnknownWorkflowError, match=r"unknown workflow 'beta' \(known: alpha\)"):
        workflows.get("beta")
    with pytest.raises(LookupError):
        workflows.upstream_closure("beta")


def test_node_config_is_not_checked_without_node_types(tmp_path: Path) -> None:
    write(tmp_path / "wf", "a.yaml", workflow("alpha"))
    (node,) = load_workflows([tmp_path / "wf"]).get("alpha").nodes
    assert isinstance(node.config, UncheckedConfig)
    assert node.config.model_dump() == {}
    assert node.node_type == PlainKind("http")
    assert node.inputs.columns == {"company": ("url",)}  # its template is still read


def test_missing_folders_and_other_files_are_fine(tmp_path: Path) -> None:
    user = tmp_path / "wf"
    write(user, "a.yaml", workflow("alpha"))
    write(user, "notes.txt", "not: [a workflow")
    write(user, ".#a.yaml", "broken: [editor lock file")
    (user / "sub").mkdir()
    write(user / "sub", "b.yaml", workflow("nested_is_not_loaded"))
    workflows = load_workflows([tmp_path / "missing", user])
    assert workflows.names() == ["alpha"]
    assert len(load_workflows([tmp_path / "missing"])) == 0


def test_a_file_path_can_be_given_instead_of_a_folder(tmp_path: Path) -> None:
    path = write(tmp_path / "wf", "a.yaml", workflow("alpha"))
    assert load_workflows([path]).names() == ["alpha"]
    assert load_workflow_file(path).name == "alpha"


def test_the_same_file_reached_twice_loads_once(tmp_path: Path) -> None:
    path = write(tmp_path / "wf", "a.yaml", workflow("alpha"))
    assert load_workflows([tmp_path / "wf", path]).names() == ["alpha"]


def test_the_file_path_does_not_change_the_config_hash(tmp_path: Path) -> None:
    text = workflow("alpha")
    one = load_workflow_file(write(tmp_path / "one", "a.yaml", text))
    two = load_workflow_file(write(tmp_path / "two", "b.yaml", text))
    assert one.source != two.source
    assert one.config_hash() == two.config_hash()
    assert one.node_hashes() == two.node_hashes()


def test_defaults_load_builtins_and_the_user_folder_from_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = tmp_path / "user-workflows"
    write(user, "mine.yaml", workflow("my_own_flow", outputs="my_own_flow_column_xyz"))
    monkeypatch.setenv("LEAD_PIPELINE_WORKFLOWS", str(user))
    builtin_names = {load_workflow_file(p).name for p in BUILTIN_DIR.glob("*.yaml")}

    workflows = load_workflows()

    assert set(workflows.names()) == builtin_names | {"my_own_flow"}
    assert not workflows.is_builtin("my_own_flow")
    assert all(workflows.is_builtin(name) for name in builtin_names)


def test_defaults_with_no_user_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LEAD_PIPELINE_WORKFLOWS", str(tmp_path / "does-not-exist"))
    builtin_names = {load_workflow_file(p).name for p in BUILTIN_DIR.glob("*.yaml")}
    assert set(load_workflows().names()) == builtin_names


def test_a_workflow_set_can_be_built_from_specs() -> None:
    specs = [parse_workflow(workflow("b", needs="[a]")), parse_workflow(workflow("a"))]
    assert WorkflowSet(specs).names() == ["a", "b"]
    with pytest.raises(WorkflowError, match="workflow 'a' is defined twice"):
        WorkflowSet([*specs, parse_workflow(workflow("a"))])


# --------------------------------------------------------------------------- YAML


def test_yaml_syntax_errors_name_file_line_and_column(tmp_path: Path) -> None:
    write(tmp_path / "wf", "bad.yaml", "name: x\nnodes:\n  - id: a\n    type: [http\n")
    with pytest.raises(WorkflowError) as info:
        load_workflows([tmp_path / "wf"])
    (problem,) = problems_of(info)
    assert problem.startswith("wf/bad.yaml: YAML syntax error at line 5, column 1:")


def test_duplicate_yaml_keys_are_refused(tmp_path: Path) -> None:
    write(
        tmp_path / "wf",
        "dup.yaml",
        """
        name: x
        nodes:
          - id: a
            type: http
            url: https://one.test
            url: https://two.test
        """,
    )
    with pytest.raises(WorkflowError) as info:
        load_workflows([tmp_path / "wf"])
    assert problems_of(info) == [
        "wf/dup.yaml: YAML syntax error at line 6, column 5: "
        "duplicate key 'url' (first defined at line 5)"
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "must be a mapping with name and nodes, not empty"),
        ("- name: x\n", "must be a mapping with name and nodes, not a list"),
        ("just text\n", "must be a mapping with name and nodes, not a str"),
    ],
)
def test_a_file_must_hold_one_mapping(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "wf").mkdir()
    (tmp_path / "wf" / "x.yaml").write_text(text)
    with pytest.raises(WorkflowError, match=f"wf/x.yaml: a workflow file {message}"):
        load_workflows([tmp_path / "wf"])


def test_python_tags_are_not_constructed(tmp_path: Path) -> None:
    write(
        tmp_path / "wf", "x.yaml", "name: !!python/object/apply:os.system ['echo hi']\nnodes: []\n"
    )
    with pytest.raises(WorkflowError, match=r"wf/x.yaml: YAML syntax error at line 1"):
        load_workflows([tmp_path / "wf"])


def test_alias_bombs_are_refused(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 8):
        previous = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([previous] * 10)}]")
    text = "\n".join(lines) + "\nname: bomb\nnodes:\n  - {id: a, type: http, payload: *a7}\n"
    write(tmp_path / "wf", "bomb.yaml", text)
    with pytest.raises(WorkflowError, match=r"wf/bomb.yaml: more than 100000 values"):
        load_workflows([tmp_path / "wf"])


def test_oversized_and_non_utf8_files_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "wf"
    folder.mkdir()
    (folder / "big.yaml").write_text("# " + "x" * MAX_FILE_BYTES)
    (folder / "latin.yaml").write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(WorkflowError) as info:
        load_workflows([folder])
    assert problems_of(info) == [
        f"wf/big.yaml: file is {MAX_FILE_BYTES + 2} bytes, more than {MAX_FILE_BYTES}",
        "wf/latin.yaml: not UTF-8 text (byte 9)",
    ]


# --------------------------------------------------------------------------- schema


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "nodes: [{id: a, type: http}]\n",
            "wf/x.yaml: field 'name': Field required",
        ),
        (
            "name: Bad-Name\nnodes: [{id: a, type: http}]\n",
            "wf/x.yaml: field 'name': String should match pattern",
        ),
        (
            "name: x\nnodes: []\n",
            "wf/x.yaml: field 'nodes': List should have at least 1 item",
        ),
        (
            "name: x\nwehre: a == 1\nnodes: [{id: a, type: http}]\n",
            "wf/x.yaml: field 'wehre': unknown field; did you mean 'where'?",
        ),
        (
            "name: x\nneeds: other\nnodes: [{id: a, type: http}]\n",
            "wf/x.yaml: field 'needs': Input should be a valid list",
        ),
        (
            "name: x\nnodes: [{id: Fetch Page, type: http}]\n",
            "wf/x.yaml: node 'Fetch Page' field 'id': String should match pattern",
        ),
        (
            "name: x\nnodes: [{id: fetch}]\n",
            "wf/x.yaml: node 'fetch' field 'type': Field required",
        ),
        (
            "name: x\nnodes: [{id: a, type: http}, {type: http}]\n",
            "wf/x.yaml: node #2 field 'id': Field required",
        ),
        (
            "name: x\nnodes: [{id: fetch, type: http, outputs: {title: text}}]\n",
            "wf/x.yaml: node 'fetch' field 'outputs.title.type': Input should be 'string'",
        ),
        (
            "name: x\nnodes: [{id: fetch, type: http, outputs: {Title: string}}]\n",
            "wf/x.yaml: node 'fetch' field 'outputs': output column 'Title' must match",
        ),
        (
            "name: x\nnodes: [{id: a, type: http}, {id: a, type: http}]\n",
            "wf/x.yaml: field 'nodes': node id 'a' is used twice",
        ),
        (
            "name: x\nsource: /etc/passwd\nnodes: [{id: a, type: http}]\n",
            "wf/x.yaml: field 'source': unknown field (it is set by the loader)",
        ),
    ],
)
def test_schema_errors_name_file_node_and_field(tmp_path: Path, text: str, expected: str) -> None:
    write(tmp_path / "wf", "x.yaml", text)
    with pytest.raises(WorkflowError) as info:
        load_workflows([tmp_path / "wf"])
    (problem,) = problems_of(info)
    assert problem.startswith(expected), problem


def test_every_problem_of_every_file_is_reported_at_once(tmp_path: Path) -> None:
    folder = tmp_path / "wf"
    write(folder, "a.yaml", "name: a\nnodes: [{id: A, type: http}]\n")
    write(folder, "b.yaml", "name: b\nnodes: [{id: b}]\nwhere: 'x =='\n")
    write(folder, "c.yaml", workflow("c"))
    with pytest.raises(WorkflowError) as info:
        load_workflows([folder])
    problems = problems_of(info)
    assert len(problems) == 2
    assert problems[0].startswith("wf/a.yaml: node 'A' field 'id'")
    assert problems[1].startswith("wf/b.yaml: node 'b' field 'type'")
    assert str(info.value).startswith("2 problems in workflow definitions:\n- wf/a.yaml")


# --------------------------------------------------------------------------- node types


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        (
            "{id: fetch, type: htp, url: x}",
            "wf/x.yaml: node 'fetch' field 'type': unknown node type 'htp' "
            "(known: compute, http, prompt)",
        ),
        ("{id: fetch, type: http}", "wf/x.yaml: node 'fetch' field 'url': Field required"),
        (
            "{id: fetch, type: http, url: x, timeout: -1}",
            "wf/x.yaml: node 'fetch' field 'timeout': Input should be greater than 0",
        ),
        (
            "{id: fetch, type: http, url: x, headers: {X-Count: [1]}}",
            "wf/x.yaml: node 'fetch' field 'headers.X-Count': Input should be a valid string",
        ),
        (
            "{id: fetch, type: http, url: x, hedaers: {}}",
            "wf/x.yaml: node 'fetch' field 'hedaers': unknown field; did you mean 'headers'?",
        ),
        (
            "{id: fetch, type: http, url: x, output: [a]}",
            "wf/x.yaml: node 'fetch' field 'output': unknown field; did you mean 'outputs'?",
        ),
    ],
)
def test_node_configs_are_validated_by_their_type(tmp_path: Path, node: str, expected: str) -> None:
    write(tmp_path / "wf", "x.yaml", f"name: x\nnodes:\n  - {node}\n")
    with pytest.raises(WorkflowError) as info:
        load_workflows([tmp_path / "wf"], node_types=NODE_TYPES)
    assert problems_of(info) == [expected]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("url", "'https://x.test/{{ company '", "template line 1: syntax error"),
        (
            "url",
            "\"{{ ''.__class__.__mro__[1].__subclasses__() }}\"",
            "'__subclasses__' is not allowed",
        ),
        ("url", "'{{ cycler.__init__.__globals__ }}'", "'__globals__' is not allowed"),
        ("headers", "{X-Key: '{{ self._TemplateReference__context }}'}", "is not allowed"),
        ("headers", "{X-Key: \"{% include 'x' %}\"}", "'include' is not allowed"),
    ],
)
def test_templated_fields_are_compiled_at_load(
    tmp_path: Path, field: str, value: str, message: str
) -> None:
    write(
        tmp_path / "wf",
        "x.yaml",
        f"name: x\nnodes:\n  - {{id: fetch, type: http, {field}: {value}}}\n",
    )
    if field != "url":
        text = (
            (tmp_path / "wf" / "x.yaml").read_text().replace("type: http,", "type: http, url: x,")
        )
        (tmp_path / "wf" / "x.yaml").write_text(text)
    for node_types in (NODE_TYPES, None):
        with pytest.raises(WorkflowError) as info:
            load_workflows([tmp_path / "wf"], node_types=node_types)
        (problem,) = problems_of(info)
        path = field if field == "url" else "headers.X-Key"
        assert problem.startswith(f"wf/x.yaml: node 'fetch' field '{path}': template line 1: ")
        assert message in problem


def test_template_fields_limit_which_strings_are_templates(tmp_path: Path) -> None:
    folder = tmp_path / "wf"
    write(
        folder,
        "x.yaml",
        """
        name: x
        nodes:
          - id: ask
            type: prompt
            prompt: "Who founded {{ company }}?"
            jmes: "{{ not jinja"
        """,
    )
    load_workflows([folder], node_types=NODE_TYPES)  # jmes is not a template field
    with pytest.raises(WorkflowError, match="node 'ask' field 'jmes': template line 1"):
        load_workflows([folder])  # without node types every marked-up string is compiled
    write(
        folder, "x.yaml", "name: x\nnodes: [{id: ask, type: prompt, prompt: '{{ a.__class__ }}'}]\n"
    )
    with pytest.raises(WorkflowError, match="node 'ask' field 'prompt': template line 1"):
        load_workflows([folder], node_types=NODE_TYPES)


def test_expression_fields_are_compiled_at_load(tmp_path: Path) -> None:
    folder = tmp_path / "wf"
    write(
        folder,
        "x.yaml",
        """
        name: x
        params: {rate: 2}
        nodes:
          - id: calc
            type: compute
            values: {score: "employees * params.rate", bad: "open('x')"}
            check: "__import__('os')"
        """,
    )
    with pytest.raises(WorkflowError) as info:
        load_workflows([folder], node_types=NODE_TYPES)
    assert problems_of(info) == [
        "wf/x.yaml: node 'calc' field 'values.bad': unknown function 'open' at column 1 in "
        "values.bad: open('x') (allowed functions: coalesce, contains, domain, len, lower, "
        "round, startswith, upper)",
        "wf/x.yaml: node 'calc' field 'check': unexpected '__import__' at column 1 in check: "
        "__import__('os') (names containing '__' are not allowed)",
    ]


# --------------------------------------------------------------------------- where / when


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        (
            "\"__import__('os').system('id')\"",
            "wf/x.yaml: field 'where': unexpected '__import__' at column 1 in where",
        ),
        ("'a.__class__'", "wf/x.yaml: field 'where': unexpected '.' at column 2 in where"),
        ("\"open('x')\"", "wf/x.yaml: field 'where': unknown function 'open' at column 1"),
        ("'x == import os'", "wf/x.yaml: field 'where': unexpected 'import' at column 6"),
        ("'employees * 2'", "wf/x.yaml: field 'where': a filter must be a condition"),
        ("'params.limit > 3'", "wf/x.yaml: field 'where': unknown parameter params.limit"),
    ],
)
def test_where_is_compiled_at_load(tmp_path: Path, where: str, expected: str) -> None:
    write(tmp_path / "wf", "x.yaml", f"name: x\nwhere: {where}\nnodes: [{{id: a, type: http}}]\n")
    with pytest.raises(WorkflowError) as info:
        load_workflows([tmp_path / "wf"])
    (problem,) = problems_of(info)
    assert problem.startswith(expected), problem


def test_deeply_nested_and_huge_where_are_refused_at_load(tmp_path: Path) -> None:
    folder = tmp_path / "wf"
    write(
        folder,
        "x.yaml",
        f"name: x\nwhere: '{'(' * 50}a{')' * 50}'\nnodes: [{{id: a, type: http}}]\n",
    )
    with pytest.raises(WorkflowError, match="field 'where': expression nests deeper than 32"):
        load_workflows([folder])
    write(
        folder,
        "x.yaml",
        f"name: x\nwhere: '{'a == 1 or ' * 300}a'\nnodes: [{{id: a, type: http}}]\n",
    )
    with pytest.raises(WorkflowError, match="field 'where': expression is 3001 characters long"):
        load_workflows([folder])


def test_when_is_compiled_at_load_and_params_are_checked(tmp_path: Path) -> None:
    folder = tmp_path / "wf"
    write(
        folder,
        "x.yaml",
        """
        name: x
        params: {min_size: 10}
        where: employees >= params.min_size
        nodes:
          - {id: ok, type: http, when: "website is not null and employees > params.min_size"}
          - {id: broken, type: http, when: "website.__len__()"}
          - {id: unknown_param, type: http, when: "employees > params.max_size"}
        """,
    )
    with pytest.raises(WorkflowError) as info:
        load_workflows([folder])
    assert problems_of(info) == [
        "wf/x.yaml: node 'broken' field 'when': unexpected '.' at column 8 in when: "
        "website.__len__() (attribute access is not allowed; only params.NAME)",
        "wf/x.yaml: node 'unknown_param' field 'when': unknown parameter params.max_size "
        "(declared: min_size)",
    ]


# --------------------------------------------------------------------------- across workflows


def test_unknown_upstream_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "wf"
    write(folder, "a.yaml", workflow("classify"))
    write(folder, "b.yaml", workflow("enrich", needs="[clasify]"))
    with pytest.raises(WorkflowError) as info:
        load_workflows([folder])
    assert problems_of(info) == [
        "wf/b.yaml: field 'needs': unknown workflow 'clasify'; did you mean 'classify'? "
        "(known: classify, enrich)"
    ]


def test_a_cycle_in_needs_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "wf"
    write(folder, "a.yaml", workflow("alpha", needs="[beta]"))
    write(folder, "b.yaml", workflow("beta", needs="[gamma]"))
    write(folder, "c.yaml", workflow("gamma", needs="[alpha]"))
    write(folder, "d.yaml", workflow("delta", needs="[alpha]"))
    with pytest.raises(WorkflowError) as info:
        load_workflows([folder])
    assert problems_of(info) == [
        "workflows need each other in a cycle: alpha -> beta -> gamma -> alpha "
        "(in wf/a.yaml, wf/b.yaml, wf/c.yaml)"
    ]


def test_a_workflow_needing_itself_is_a_cycle(tmp_path: Path) -> None:
    write(tmp_path / "wf", "a.yaml", workflow("alpha", needs="[alpha]"))
    with pytest.raises(WorkflowError, match="cycle: alpha -> alpha"):
        load_workflows([tmp_path / "wf"])


def test_two_workflows_writing_one_column_are_both_named(tmp_path: Path) -> None:
    folder = tmp_path / "wf"
    write(folder, "a.yaml", workflow("alpha", outputs="email"))
    write(folder, "b.yaml", workflow("beta", outputs="email"))
    with pytest.raises(WorkflowError) as info:
        load_workflows([folder])
    assert problems_of(info) == [
        "column 'email' is written by two workflows: 'alpha' (wf/a.yaml node 'step') "
        "and 'beta' (wf/b.yaml node 'step')"
    ]


def test_nodes_of_one_workflow_may_share_a_column(tmp_path: Path) -> None:
    write(
        tmp_path / "wf",
        "a.yaml",
        """
        name: alpha
        nodes:
          - {id: first, type: http, url: x, outputs: [email]}
          - {id: fallback, type: http, url: y, when: email is null, outputs: [email]}
        """,
    )
    workflows = load_workflows([tmp_path / "wf"])
    assert workflows.output_owners() == {"email": ("alpha", "first")}


def test_two_files_defining_one_workflow_are_both_named(tmp_path: Path) -> None:
    folder = tmp_path / "wf"
    write(folder, "a.yaml", workflow("alpha"))
    write(folder, "b.yaml", workflow("alpha"))
    with pytest.raises(WorkflowError) as info:
        load_workflows([folder])
    assert problems_of(info) == ["workflow 'alpha' is defined twice: in wf/a.yaml and in wf/b.yaml"]


def test_a_user_workflow_may_not_shadow_a_builtin(tmp_path: Path) -> None:
    builtin = tmp_path / "builtin"
    write(builtin, "b2b_only.yaml", workflow("b2b_only", outputs="is_b2b"))
    write(tmp_path / "wf", "mine.yaml", workflow("b2b_only", outputs="is_b2b"))
    with pytest.raises(WorkflowError) as info:
        load_workflows([tmp_path / "wf"], builtin_dirs=[builtin])
    assert problems_of(info) == [
        "wf/mine.yaml: field 'name': 'b2b_only' is a built-in workflow (builtin/b2b_only.yaml); "
        "user workflows cannot replace built-ins, so give this one another name"
    ]
    workflows = load_workflows([tmp_path / "missing"], builtin_dirs=[builtin])
    assert workflows.is_builtin("b2b_only")


def test_reading_another_workflows_column_requires_needs(tmp_path: Path) -> None:
    folder = tmp_path / "wf"
    write(folder, "a.yaml", workflow("classify", outputs="is_b2b"))
    write(folder, "b.yaml", workflow("people", where="is_b2b == true"))
    with pytest.raises(WorkflowError) as info:
        load_workflows([folder])
    assert problems_of(info) == [
        "wf/b.yaml: field 'where': reads column 'is_b2b', which workflow 'classify' writes "
        "(wf/a.yaml); add 'classify' to needs"
    ]
    write(folder, "b.yaml", workflow("people", where="is_b2b == true", needs="[classify]"))
    assert load_workflows([folder]).names() == ["classify", "people"]


def test_a_template_reading_another_workflows_column_requires_needs(tmp_path: Path) -> None:
    folder = tmp_path / "wf"
    write(folder, "a.yaml", workflow("people", outputs="founder"))
    write(
        folder,
        "b.yaml",
        "name: mail\nnodes:\n  - {id: draft, type: http, url: 'https://m.test/{{ founder }}'}\n",
    )
    with pytest.raises(WorkflowError, match=r"node 'draft' field 'url': reads column 'founder'"):
        load_workflows([folder])


def test_a_needed_workflow_two_steps_up_is_enough(tmp_path: Path) -> None:
    folder = tmp_path / "wf"
    write(folder, "a.yaml", workflow("classify", outputs="is_b2b"))
    write(folder, "b.yaml", workflow("people", needs="[classify]"))
    write(folder, "c.yaml", workflow("mail", needs="[people]", where="is_b2b"))
    assert load_workflows([folder]).names() == ["classify", "people", "mail"]


# --------------------------------------------------------------------------- broken files


def test_set_aside_broken_leaves_out_a_broken_file_and_what_needs_it(tmp_path: Path) -> None:
    folder = tmp_path / "wf"
    write(folder, "a_mail.yaml", workflow("mail", needs="[people]"))  # loads once people has
    write(folder, "b_people.yaml", workflow("people"))
    write(folder, "c_typo.yaml", "name: typo\nnodes: [")
    write(folder, "d_score.yaml", workflow("score", needs="[typo]"))
    write(folder, "e_twice.yaml", workflow("people"))
    with pytest.raises(WorkflowError) as strict:
        load_workflows([folder])
    assert len(problems_of(strict)) == 1 and problems_of(strict)[0].startswith("wf/c_typo.yaml")

    workflows = load_workflows([folder], set_aside_broken=True)

    assert workflows.names() == ["people", "mail"]
    broken = workflows.broken
    assert broken[0].startswith("wf/c_typo.yaml: YAML syntax error")
    assert broken[1] == (
        "wf/d_score.yaml: field 'needs': unknown workflow 'typo' (known: mail, people, score)"
    )
    assert broken[2] == (
        "workflow 'people' is defined twice: in wf/b_people.yaml and in wf/e_twice.yaml"
    )
    assert len(broken) == 3
    warning = workflows.warning()
    assert warning is not None and "c_typo.yaml" in warning and "d_score.yaml" in warning
    with pytest.raises(WorkflowError, match=r"c_typo\.yaml"):
        workflows.usable_for("typo")  # only a broken file could define it
    assert [w.name for w in workflows.usable_for("mail")] == ["people", "mail"]


def test_set_aside_broken_still_raises_for_a_broken_builtin(tmp_path: Path) -> None:
    builtin = tmp_path / "builtin"
    write(builtin, "base.yaml", "name: base\nnodes: [")
    write(tmp_path / "wf", "mine.yaml", workflow("mine"))
    with pytest.raises(WorkflowError, match=r"builtin/base\.yaml: YAML syntax error"):
        load_workflows([tmp_path / "wf"], builtin_dirs=[builtin], set_aside_broken=True)


def test_every_file_loading_leaves_nothing_broken(tmp_path: Path) -> None:
    write(tmp_path / "wf", "a.yaml", workflow("alpha"))
    workflows = load_workflows([tmp_path / "wf"], set_aside_broken=True)
    assert workflows.names() == ["alpha"] and workflows.broken == []
    assert workflows.warning() is None


def test_a_file_that_does_not_parse_is_set_aside_alone(tmp_path: Path) -> None:
    write(tmp_path / "wf", "a.yaml", workflow("alpha"))
    write(tmp_path / "wf", "b.yaml", "name: beta\nnodes: [")
    workflows = load_workflows([tmp_path / "wf"], set_aside_broken=True)
    assert workflows.names() == ["alpha"]
    assert len(workflows.broken) == 1 and workflows.broken[0].startswith("wf/b.yaml: YAML syntax")
