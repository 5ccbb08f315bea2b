"""Declared outputs are required unless declared ``optional: true``: an answer that lacks
one fails the node with one line, never ok with null. Through a workflow run, with a
plugin's function and an ``http`` node against a stand-in API on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lead_pipeline.engine.functions import row_function
from lead_pipeline.providers.urlguard import TRUSTED_HOSTS_ENV
from lead_pipeline.store import FAILED, OK, LeadStore
from lead_pipeline.workflows.model import NodeSpec
from lead_pipeline_tests.engine.test_output_validation import compile_one
from lead_pipeline_tests.engine.test_runner import materialize
from lead_pipeline_tests.servers import RecordedRequest, Reply, StubServer

MISSING = "missing (the node gave no value for it; declare the output optional: true"


def _partial_scores(values: Any) -> dict[str, Any]:
    """A plugin that sometimes leaves a declared column out of its dict, or sets it null."""
    name = values.get("name")
    if name == "absent":
        return {"score": 1}
    if name == "null":
        return {"score": 2, "label": None}
    return {"score": 3, "label": "ok"}


PLUGIN = """\
name: partial
nodes:
  - id: score
    type: python
    function: answers_test_partial_scores
    reads: [name]
    outputs:
      score: integer
      label: {type: string, optional: OPTIONAL}
"""


@pytest.mark.parametrize("optional", [False, True])
def test_a_plugin_dict_without_a_declared_output(
    store: LeadStore, tmp_path: Path, optional: bool
) -> None:
    row_function("answers_test_partial_scores")(_partial_scores)  # (again, after a reset)
    store.import_rows("demo", [(n, {"name": n}) for n in ("absent", "null", "full")])
    workflow = compile_one(tmp_path, PLUGIN.replace("OPTIONAL", str(optional).lower()))
    summary = materialize(store, workflow)
    results = {rid: r[("partial", "score")] for rid, r in store.results("demo").items()}
    assert results["full"].status == OK and results["full"].outputs == {"score": 3, "label": "ok"}
    if optional:
        assert (summary.ok, summary.failed) == (3, 0)
        assert results["absent"].outputs == {"score": 1, "label": None}
        assert results["null"].outputs == {"score": 2, "label": None}
    else:
        assert (summary.ok, summary.failed) == (1, 2)
        for rid in ("absent", "null"):
            assert results[rid].status == FAILED and results[rid].outputs is None
            assert results[rid].error == f"invalid output label: {MISSING} if a row may have none)"


class CompanyApi(StubServer):
    """``GET /company?name=`` answers a company record, with or without its headcount."""

    def handle(self, request: RecordedRequest) -> Reply:
        name = request.param("name")
        data: dict[str, Any] = {"name": name}
        if name == "known":
            data["employees"] = 12
        if name == "null":
            data["employees"] = None
        return Reply(json={"data": data})


HTTP = """\
name: headcount
nodes:
  - id: lookup
    type: http
    url: "{base}/company"
    params: {{name: "{{{{ name }}}}"}}
    extract: {{headcount: "data.employees", typo: "data.employes"}}
    outputs:
      headcount: {{type: integer, optional: {optional}}}
      typo: {{type: integer, optional: true}}
"""


@pytest.mark.parametrize("optional", [False, True])
def test_an_http_extract_that_finds_nothing(
    store: LeadStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, optional: bool
) -> None:
    with CompanyApi() as api:
        monkeypatch.setenv(TRUSTED_HOSTS_ENV, f"127.0.0.1:{api.port}")
        store.import_rows("demo", [(n, {"name": n}) for n in ("known", "unknown", "null")])
        text = HTTP.format(base=api.root_url, optional=str(optional).lower())
        workflow = compile_one(tmp_path, text)
        summary = materialize(store, workflow)
    results = {rid: r[("headcount", "lookup")] for rid, r in store.results("demo").items()}
    assert results["known"].outputs == {"headcount": 12, "typo": None}
    if optional:
        assert (summary.ok, summary.failed) == (3, 0)
        assert results["unknown"].outputs == {"headcount": None, "typo": None}
    else:
        assert (summary.ok, summary.failed) == (1, 2)
        for rid in ("unknown", "null"):
            assert results[rid].status == FAILED
            assert results[rid].error == (
                f"invalid output headcount: {MISSING} if a row may have none)"
            )


def test_optional_is_left_out_of_the_node_hash() -> None:
    """Declaring an output optional changes what is accepted, not what is computed: the
    results already stored are not made stale by it."""
    base = {"id": "n", "type": "expression", "values": {"x": "1"}}
    required = NodeSpec(**base, outputs={"x": {"type": "integer"}})
    optional = NodeSpec(**base, outputs={"x": {"type": "integer", "optional": True}})
    assert required.fingerprint() == optional.fingerprint()
    changed = NodeSpec(**base, outputs={"x": {"type": "number"}})
    assert changed.fingerprint() != required.fingerprint()


CACHED = """\
name: cached
nodes:
  - id: lookup
    type: http
    url: "{base}/company"
    params: {{name: "{{{{ name }}}}"}}
    extract: {{headcount: "data.employees"}}
    cache: true
    outputs: {{headcount: integer}}
"""


def test_an_answer_lacking_a_declared_output_is_never_cached(
    store: LeadStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with CompanyApi() as api:
        monkeypatch.setenv(TRUSTED_HOSTS_ENV, f"127.0.0.1:{api.port}")
        store.import_rows("demo", [("acme", {"name": "unknown"})])
        workflow = compile_one(tmp_path, CACHED.format(base=api.root_url))
        assert materialize(store, workflow).failed == 1
        # The API learns the company; the re-run of the failed row asks it again instead of
        # being answered from the cache with the answer that failed.
        api.script(Reply(json={"data": {"employees": 40}}))
        assert materialize(store, workflow).ok == 1
        assert api.count("/company") == 2
        result = store.results("demo")["acme"][("cached", "lookup")]
    assert result.outputs == {"headcount": 40}
