"""Hostile workflow folders get one clear error from the CLI, exit 2 and no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lead_pipeline.workflows.errors import WorkflowError
from lead_pipeline.workflows.loader import MAX_YAML_DEPTH, parse_workflow

EXPRESSION_NODE = "nodes:\n  - {id: a, type: expression, values: {x: '1'}, outputs: {x: number}}\n"

HOSTILE = {
    "nested lists": "name: deep\nnodes: " + "[" * 5000 + "]" * 5000 + "\n",
    "nested mappings": "name: deep\nnodes: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n",
    "nested blocks": "name: deep\nnodes:\n" + "".join("  " * i + "- a:\n" for i in range(1, 400)),
    "a recursive alias": "a: &a [*a]\nname: rec\nnodes: *a\n",
}


@pytest.mark.parametrize("text", list(HOSTILE.values()), ids=list(HOSTILE))
def test_deeply_nested_or_recursive_yaml_is_one_clear_error(text: str) -> None:
    with pytest.raises(WorkflowError, match=r"deep\.yaml|rec\.yaml|nested|recursive"):
        parse_workflow(text, f"{'rec' if 'rec' in text else 'deep'}.yaml")


def test_nesting_a_workflow_needs_is_accepted() -> None:
    body = "{a: " * (MAX_YAML_DEPTH - 6) + "1" + "}" * (MAX_YAML_DEPTH - 6)
    text = f"name: fine\nparams: {{p: {body}}}\n{EXPRESSION_NODE}"
    # Parameters are typed scalars now, so the model refuses this value; what this
    # test pins is that the depth cap itself does not refuse nesting below it.
    with pytest.raises(WorkflowError) as refused:
        parse_workflow(text, "fine.yaml")
    assert "nested more than" not in str(refused.value)
    assert "params.p" in str(refused.value)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("scoring__select", "contains '__'"),
        ("scoring__run_shard", "contains '__'"),
        ("a__summarize", "contains '__'"),
        ("all", "reserved"),
    ],
)
def test_names_that_collide_with_generated_ones_are_refused(name: str, message: str) -> None:
    with pytest.raises(WorkflowError, match=message):
        parse_workflow(f"name: {name}\n{EXPRESSION_NODE}", "x.yaml")


def _cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lead_pipeline.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.mark.parametrize(
    ("files", "plugins", "expected"),
    [
        ({"deep.yaml": HOSTILE["nested lists"]}, "", "nested more than"),
        ({"rec.yaml": HOSTILE["a recursive alias"]}, "", "recursive"),
        ({"x.yaml": f"name: b__select\n{EXPRESSION_NODE}"}, "", "contains '__'"),
        (
            {"p.yaml": "name: p\nnodes:\n  - {id: a, type: python, function: nope}\n"},
            "",
            "no python function 'nope' is registered",
        ),
        (
            {"p.yaml": "name: p\nnodes:\n  - {id: a, type: python, function: nope}\n"},
            "no_such_plugin_module",
            "LEAD_PIPELINE_PLUGINS names module 'no_such_plugin_module'",
        ),
    ],
)
def test_the_cli_reports_hostile_workflows_without_a_traceback(
    tmp_path: Path, files: dict[str, str], plugins: str, expected: str
) -> None:
    folder = tmp_path / "wf"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    lead = tmp_path / "leads.csv"
    lead.write_text("name,website\nAcme,acme.com\n")
    env = {"LEAD_PIPELINE_WORKFLOWS": str(folder), "LEAD_PIPELINE_PLUGINS": plugins}
    assert _cli(tmp_path, "import", str(lead), "--lead", "demo", **env).returncode == 0
    # `workflows` is where users check their files: strict, exit 2.
    done = _cli(tmp_path, "workflows", **env)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert expected in done.stderr, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    # `status` needs no workflow file: it works, warning about the broken one.
    done = _cli(tmp_path, "status", "--lead", "demo", **env)
    output = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "did not load" in output, output
    assert "Traceback" not in output


def test_a_workflow_writing_a_builtin_output_is_named_and_the_others_listed(
    tmp_path: Path,
) -> None:
    """``is_b2b`` is ``b2b_only``'s: a user file writing it is one broken file, named, while
    the other workflows are listed; before, ``workflows`` exited 2 listing nothing."""
    folder = tmp_path / "wf"
    folder.mkdir()
    (folder / "mine.yaml").write_text(
        "name: mine\nnodes:\n"
        "  - {id: a, type: expression, values: {is_b2b: 'true'}, outputs: {is_b2b: boolean}}\n"
    )
    (folder / "good.yaml").write_text(f"name: good\n{EXPRESSION_NODE}")
    done = _cli(tmp_path, "workflows", LEAD_PIPELINE_WORKFLOWS=str(folder))
    assert done.returncode == 2, (done.stdout, done.stderr)
    listed = [line.split()[0] for line in done.stdout.splitlines() if line and line[0] != " "]
    assert {"b2b_only", "founder_linkedin", "good"} <= set(listed), done.stdout
    assert "mine" not in listed, done.stdout
    [error] = done.stderr.splitlines()
    assert error.startswith("error: not loaded: column 'is_b2b' is written by two workflows")
    assert "mine.yaml" in error and "Traceback" not in done.stdout + done.stderr
