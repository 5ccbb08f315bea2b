"""Node types and row functions from another package, found through entry points.

The plugin here is a real installed distribution as far as Python can tell: a
package and its ``.dist-info`` (with ``entry_points.txt``) in a folder on
``sys.path``, which is what ``pip install`` leaves behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from lead_pipeline.engine.functions import get_function, reset_functions
from lead_pipeline.engine.node_types import BUILTIN
from lead_pipeline.engine.options import RunOptions
from lead_pipeline.engine.plugins import NODE_TYPES_GROUP
from lead_pipeline.engine.registry import NodeConfig, PluginError, registry, reset_registry
from lead_pipeline.engine.selection import select_rows
from lead_pipeline.store import OK, LeadStore
from lead_pipeline.workflows import WorkflowError
from lead_pipeline.workflows.loader import load_workflows
from lead_pipeline_tests.engine.test_runner import materialize

PLUGIN = '''
"""A third party's node type and row function."""
from typing import ClassVar

from lead_pipeline.engine.registry import NodeConfig, NodeOutcome, node_type
from lead_pipeline.workflows.templates import render


class ShoutConfig(NodeConfig):
    template_fields: ClassVar[tuple[str, ...] | None] = ("text",)
    text: str
    times: int = 1


@node_type("shout", ShoutConfig, kinds=("python",))
async def shout(call):
    """Upper-cases a templated text."""
    text = render(call.config.text, call.values, params=call.params)
    return NodeOutcome(outputs={"loud": (text.upper() + "!") * call.config.times})


def initials(values, sep=""):
    return {"initials": sep.join(w[0] for w in (values.get("name") or "").split())}


NOT_A_NODE_TYPE = 42
http = node_type("http", ShoutConfig)(shout.run)  # a built-in's name
'''


def install(folder: Path, name: str, entry_points: str, module: str = PLUGIN) -> None:
    """What ``pip install`` of a package named ``name`` would leave in ``folder``."""
    package = name.replace("-", "_")
    (folder / f"{package}.py").write_text(module)
    info = folder / f"{package}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "site-packages"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    reset_registry()
    reset_functions()
    yield folder
    for module in [m for m in sys.modules if m.startswith("lp_demo")]:
        del sys.modules[module]
    reset_registry()
    reset_functions()


WORKFLOW = """\
name: greeting
nodes:
  - id: loud
    type: shout
    text: "hello {{ name }}"
    outputs: {loud: string}
  - id: short
    type: python
    function: initials
    args: {sep: "."}
    outputs: {initials: string}
"""


def test_a_plugins_node_type_and_function_run_in_a_workflow(
    site: Path, tmp_path: Path, store: LeadStore
) -> None:
    install(
        site,
        "lp-demo-plugin",
        """\
        [lead_pipeline.node_types]
        shout = lp_demo_plugin:shout
        [lead_pipeline.functions]
        initials = lp_demo_plugin:initials
        """,
    )
    assert registry()["shout"].template_fields == ("text",)
    assert "http" in registry()  # the built-ins are still there
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "greeting.yaml").write_text(WORKFLOW)
    (workflow,) = load_workflows([folder], builtin_dirs=[], node_types=registry())
    store.import_rows("demo", [("a", {"name": "Ada Lovelace"}), ("b", {"name": "Alan Turing"})])
    summary = materialize(store, workflow, parallel=2)
    assert (summary.ok, summary.failed) == (2, 0)
    frame = store.wide_frame("demo").set_index("_id")
    assert frame.loc["a", "loud"] == "HELLO ADA LOVELACE!"
    assert frame.loc["b", "initials"] == "A.T"
    assert store.results("demo", ["greeting"])["a"][("greeting", "loud")].status == OK


def test_a_plugin_template_is_checked_at_load(site: Path, tmp_path: Path) -> None:
    install(site, "lp-demo-plugin", "[lead_pipeline.node_types]\nshout = lp_demo_plugin:shout\n")
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "bad.yaml").write_text(
        "name: bad\nnodes:\n  - {id: x, type: shout, text: '{{ name.__class__ }}', "
        "outputs: {loud: string}}\n"
    )
    with pytest.raises(WorkflowError, match="node 'x' field 'text'"):
        load_workflows([folder], builtin_dirs=[], node_types=registry())


def test_an_unknown_python_function_is_named_at_load(site: Path, tmp_path: Path) -> None:
    install(
        site, "lp-demo-plugin", "[lead_pipeline.functions]\ninitials = lp_demo_plugin:initials\n"
    )
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "f.yaml").write_text(
        "name: f\nnodes:\n  - {id: x, type: python, function: initals, outputs: {i: string}}\n"
    )
    with pytest.raises(WorkflowError) as info:
        load_workflows([folder], builtin_dirs=[], node_types=registry())
    assert "no python function 'initals' is registered (known: initials)" in str(info.value)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("http = lp_demo_plugin:http", "node type 'http' is defined twice"),
        ("yell = lp_demo_plugin:shout", "is node type 'shout': the names must match"),
        ("shout = lp_demo_plugin:NOT_A_NODE_TYPE", "is int, not a NodeType"),
        ("shout = lp_demo_missing:shout", "package lp-demo-plugin cannot be imported"),
    ],
)
def test_a_broken_plugin_is_named(site: Path, entry: str, message: str) -> None:
    install(site, "lp-demo-plugin", f"[lead_pipeline.node_types]\n{entry}\n")
    with pytest.raises(PluginError, match=message):
        registry()


PLAIN_MODEL_PLUGIN = """
from pydantic import BaseModel

from lead_pipeline.engine.registry import NodeOutcome, node_type


class Settings(BaseModel):
    text: str


@node_type("plain", Settings)
async def plain(call):
    return NodeOutcome(outputs={})
"""


def test_a_plugin_whose_model_is_not_a_node_config_is_named(site: Path) -> None:
    """The loader reads a node's template and expression fields from its model: a model
    that cannot say them is refused when the plugin loads, naming the entry point."""
    install(
        site,
        "lp-demo-plain",
        "[lead_pipeline.node_types]\nplain = lp_demo_plain:plain\n",
        module=PLAIN_MODEL_PLUGIN,
    )
    with pytest.raises(
        PluginError,
        match=r"'plain'.*of package lp-demo-plain cannot be imported"
        r".*must subclass lead_pipeline.engine.registry.NodeConfig",
    ):
        registry()


def test_declared_template_and_expression_fields_must_be_fields() -> None:
    with pytest.raises(
        TypeError,
        match=r"Typo.template_fields names 'txt', which is not among "
        r"its fields \(text\)",
    ):

        class Typo(NodeConfig):
            template_fields: ClassVar[tuple[str, ...] | None] = ("txt",)
            text: str

    with pytest.raises(TypeError, match=r"Mixed.expression_fields names 'valuez'"):

        class Mixed(NodeConfig):
            expression_fields: ClassVar[tuple[str, ...]] = ("valuez",)
            values: dict[str, str]


ROW_FUNCTIONS = """
from lead_pipeline.engine.functions import row_function


@row_function("domain_length")
async def domain_length(values, plus=0):
    return {"length": len(values.get("website") or "") + plus}


@row_function("not_a_dict")
def not_a_dict(values):
    return ["no"]
"""


def test_python_nodes_call_functions_from_the_plugins_variable(
    site: Path, tmp_path: Path, store: LeadStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A module that is not an installed package registers its functions with
    ``row_function`` when ``LEAD_PIPELINE_PLUGINS`` names it; async functions work,
    and a function returning something other than a dict fails the row, not the run."""
    (site / "lp_demo_rows.py").write_text(ROW_FUNCTIONS)
    monkeypatch.setenv("LEAD_PIPELINE_PLUGINS", " lp_demo_rows , ")
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "rows.yaml").write_text(
        "name: rows\nnodes:\n"
        "  - {id: n, type: python, function: domain_length, args: {plus: 1}, "
        "outputs: {length: integer}}\n"
        "  - {id: bad, type: python, function: not_a_dict, outputs: {x: string}}\n"
    )
    (workflow,) = load_workflows([folder], builtin_dirs=[], node_types=registry())
    store.import_rows("demo", [("a", {"name": "A", "website": "acme.com"})])
    summary = materialize(store, workflow)
    assert summary.failed == 1
    results = store.results("demo", ["rows"])["a"]
    assert results[("rows", "n")].status == OK
    assert store.wide_frame("demo").set_index("_id").loc["a", "length"] == 9
    assert "returned list, expected a dict" in (results[("rows", "bad")].error or "")


WHOLE_ROW = """
from lead_pipeline.engine.functions import row_function


@row_function("count_values")
def count_values(values):
    return {"seen": sum(1 for v in values.values() if v is not None)}
"""


def test_a_node_that_sees_the_whole_row_follows_workflows_it_does_not_need(
    site: Path, tmp_path: Path, store: LeadStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ``python`` node without ``reads`` sees every column, outputs of workflows it does
    not need included: selection reads their results for it, though for other nodes it
    reads only the workflow's own and its upstream ones' (issue 22)."""
    (site / "lp_demo_whole.py").write_text(WHOLE_ROW)
    monkeypatch.setenv("LEAD_PIPELINE_PLUGINS", "lp_demo_whole")
    folder = tmp_path / "workflows"
    folder.mkdir()

    def other(expression: str) -> dict[str, Any]:
        (folder / "other.yaml").write_text(
            "name: other\nnodes:\n  - {id: o, type: expression, "
            f"values: {{size: '{expression}'}}, outputs: {{size: integer}}}}\n"
        )
        return {w.name: w for w in load_workflows([folder], builtin_dirs=[], node_types=registry())}

    (folder / "whole.yaml").write_text(
        "name: whole\nnodes:\n"
        "  - {id: w, type: python, function: count_values, outputs: {seen: integer}}\n"
    )
    (folder / "narrow.yaml").write_text(
        "name: narrow\nnodes:\n"
        "  - {id: n, type: expression, values: {shout: 'upper(name)'}, outputs: {shout: string}}\n"
    )
    compiled = other("len(name)")
    store.import_rows("demo", [("a", {"name": "Acme"})])
    for name in ("other", "narrow", "whole"):
        assert materialize(store, compiled[name]).ok == 1

    def work(name: str) -> int:
        selection = select_rows(store, compiled[name], "demo", RunOptions(), record=False)
        return len(selection.work)

    assert (work("whole"), work("narrow")) == (0, 0)  # nothing changed
    compiled = other("len(name) + 1")
    assert materialize(store, compiled["other"]).ok == 1
    assert (work("whole"), work("narrow")) == (1, 0)  # only the node that saw `size`


PRICED = '''
"""A third party's paid node type: its run, and its estimate for the plan."""
from typing import ClassVar

from lead_pipeline.engine.estimates import CallEstimate
from lead_pipeline.engine.registry import NodeConfig, NodeError, NodeOutcome, node_type
from lead_pipeline.providers.errors import ProviderError
from lead_pipeline.providers.policy import Paid


class LookupConfig(NodeConfig):
    template_fields: ClassVar[tuple[str, ...] | None] = ()
    price: float = 0.5


def estimate(node, values, context):
    price = node.config.price
    return CallEstimate("acme", 1, 1, price, price, latency_s=0.2)


@node_type("acme_lookup", LookupConfig, kinds=("api",), estimate=estimate, reads_row=False)
async def lookup(call):
    """Looks the company up at Acme, a paid call made through the run's provider policy
    (here it answers without calling anyone; what it is billed is ``price``)."""
    price = call.config.price

    async def send(_tab):
        return Paid({"acme_id": call.row_id}, price)

    policy = call.services.session.policy("acme")
    try:
        answer = await policy.run({"row": call.row_id}, send, price=price)
    except ProviderError as exc:
        raise NodeError(str(exc)) from None
    return NodeOutcome(outputs=dict(answer.data), provider="acme")
'''

ACME = """\
name: acme
nodes:
  - id: lookup
    type: acme_lookup
    price: 0.5
    outputs: {acme_id: string}
"""


def test_a_plugins_node_type_is_listed_priced_and_bounded_by_max_cost(
    site: Path, tmp_path: Path
) -> None:
    """Installed from another package, a node type is listed by ``workflows``, its
    estimate is the plan's (``--plan`` prices its rows, ``enrich`` asks before a run its
    price puts above the threshold), and ``--max-cost`` bounds the calls it makes through
    the run's provider policy."""
    install(
        site,
        "lp-demo-priced",
        """\
        [lead_pipeline.node_types]
        acme_lookup = lp_demo_priced:lookup
        """,
        module=PRICED,
    )
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "acme.yaml").write_text(ACME)
    LeadStore().import_rows("demo", [(f"r{i}", {"name": f"Co {i}"}) for i in range(4)])
    env = {
        **os.environ,
        "PYTHONPATH": str(site),
        "LEAD_PIPELINE_WORKFLOWS": str(folder),
        "COLUMNS": "200",
    }

    def cli(*args: str) -> tuple[int, str]:
        done = subprocess.run(
            [sys.executable, "-m", "lead_pipeline.cli", *args],
            capture_output=True,
            text=True,
            env=env,
            stdin=subprocess.DEVNULL,
            timeout=300,
        )
        return done.returncode, " ".join((done.stdout + done.stderr).split())

    code, listed = cli("workflows")
    assert code == 0 and "1. lookup (acme_lookup)" in listed, listed
    code, plan = cli("enrich", "--lead", "demo", "--workflow", "acme", "--plan")
    assert code == 0, plan
    assert "lookup acme 4 4 0 $2.0000" in plan and "Total: $2.0000" in plan, plan
    assert "Not priced" not in plan
    code, asked = cli("enrich", "--lead", "demo", "--workflow", "acme")
    assert code != 0 and "This run may cost up to $2.00" in asked, asked
    assert "Not started: there is no terminal to ask on" in asked
    # --max-cost bounds its calls like a built-in's: at $0.50 a call, a $0.90 cap pays one
    code, capped = cli("enrich", "--lead", "demo", "--workflow", "acme", "--max-cost", "0.9")
    assert code == 1, capped  # rows failed: the cap was reached
    results = LeadStore().results("demo", ["acme"])
    outcomes = [r[("acme", "lookup")] for r in results.values() if ("acme", "lookup") in r]
    assert sorted(r.status for r in outcomes).count(OK) == 1, capped
    assert sum(r.cost for r in outcomes) == pytest.approx(0.5), capped
    refused = [r.error or "" for r in outcomes if r.status != OK]
    assert refused and all("budget" in e for e in refused), refused


def test_the_plugins_variable_still_works_and_says_it_is_deprecated(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (site / "lp_demo_rows.py").write_text(ROW_FUNCTIONS)
    monkeypatch.setenv("LEAD_PIPELINE_PLUGINS", "lp_demo_rows")
    with pytest.warns(FutureWarning, match="LEAD_PIPELINE_PLUGINS is deprecated"):
        assert callable(get_function("domain_length"))


def test_the_built_in_node_types_are_entry_points_loaded_like_a_plugins(site: Path) -> None:
    """One way in: the registry loads the built-ins through the loader plugins go through."""
    assert BUILTIN and all(p.group == NODE_TYPES_GROUP for p in BUILTIN)
    for point in BUILTIN:
        assert registry()[point.name] is point.load()
