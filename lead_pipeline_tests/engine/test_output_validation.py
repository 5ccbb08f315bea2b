"""Nothing invalid is stored as ok: constraints, NaN and infinity fail the node, on both backends.

The values come from where users' values come from: an expression, an HTTP API
and an LLM (stand-ins on 127.0.0.1 speaking the providers' wire protocols).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import StatementError

from lead_pipeline.engine.compile import CompiledWorkflow
from lead_pipeline.engine.registry import registry
from lead_pipeline.providers.urlguard import TRUSTED_HOSTS_ENV
from lead_pipeline.store import FAILED, OK, LeadStore
from lead_pipeline.workflows.loader import load_workflows
from lead_pipeline_tests.engine.test_runner import materialize
from lead_pipeline_tests.servers import OpenAIServer, RecordedRequest, Reply, StubServer


def compile_one(tmp_path: Path, text: str) -> CompiledWorkflow:
    folder = tmp_path / "wf"
    folder.mkdir(exist_ok=True)
    (folder / "wf.yaml").write_text(text)
    (workflow,) = load_workflows([folder], builtin_dirs=[], node_types=registry())
    return workflow


def assert_agree(store: LeadStore, workflow: CompiledWorkflow, ok: int, failed: int) -> None:
    """The store's status says what the run said, and no ok result holds a bad value."""
    nodes = {workflow.name: [n.id for n in workflow.nodes]}
    counts = store.status("demo", nodes).workflows[0]
    assert (counts.ok, counts.failed, counts.pending) == (ok, failed, 0)
    for results in store.results("demo", [workflow.name]).values():
        for result in results.values():
            if result.status == OK:
                text = json.dumps(result.outputs, allow_nan=False)  # raises on NaN/inf
                assert "NaN" not in text and "Infinity" not in text


EXPRESSIONS = """\
name: ratios
nodes:
  - id: ratio
    type: expression
    values: {ratio: "a * b"}
    outputs: {ratio: {type: number, maximum: 100}}
"""


def test_expression_nan_infinity_and_range(store: LeadStore, tmp_path: Path) -> None:
    rows = [
        ("fine", {"a": 2, "b": 3}),
        ("huge", {"a": 1e308, "b": 10}),  # overflows to infinity
        ("above", {"a": 50, "b": 3}),
    ]
    store.import_rows("demo", rows)
    workflow = compile_one(tmp_path, EXPRESSIONS)
    summary = materialize(store, workflow)
    assert (summary.ok, summary.failed) == (1, 2)
    results = store.results("demo")
    assert results["fine"][("ratios", "ratio")].outputs == {"ratio": 6}
    huge = results["huge"][("ratios", "ratio")]
    assert huge.status == FAILED and huge.outputs is None
    assert "ratio: inf is not a finite number" in (huge.error or "")
    above = results["above"][("ratios", "ratio")]
    assert "ratio: 150 is above the maximum 100" in (above.error or "")
    assert_agree(store, workflow, ok=1, failed=2)


class RawJsonApi(StubServer):
    """``GET /score?name=`` answers a raw JSON body, NaN and Infinity included.

    Python's json module reads ``NaN`` and ``Infinity`` (many APIs written in
    JavaScript or Python emit them), so they reach the node as floats.
    """

    def handle(self, request: RecordedRequest) -> Reply:
        bodies = {"nan": '{"score": NaN}', "inf": '{"score": -Infinity}', "ok": '{"score": 0.25}'}
        return Reply(body=bodies[request.param("name") or "ok"].encode(), headers={})


HTTP = """\
name: scores
nodes:
  - id: score
    type: http
    url: "{base}/score"
    params: {{name: "{{{{ name }}}}"}}
    extract: {{score: "score"}}
    outputs: {{score: number}}
"""


def test_http_nan_and_infinity_fail_the_row(
    store: LeadStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with RawJsonApi() as api:
        monkeypatch.setenv(TRUSTED_HOSTS_ENV, f"127.0.0.1:{api.port}")  # the operator trusts it
        store.import_rows("demo", [(n, {"name": n}) for n in ("ok", "nan", "inf")])
        workflow = compile_one(tmp_path, HTTP.format(base=api.root_url))
        summary = materialize(store, workflow)
    assert (summary.ok, summary.failed) == (1, 2)
    results = store.results("demo")
    assert "not a finite number" in (results["nan"][("scores", "score")].error or "")
    assert "not a finite number" in (results["inf"][("scores", "score")].error or "")
    assert_agree(store, workflow, ok=1, failed=2)


LLM = """\
name: llm_b2b
nodes:
  - id: ask
    type: llm
    prompt: "Is {{ name }} B2B?"
    outputs:
      is_b2b: boolean
      b2b_confidence: {type: number, minimum: 0.5, maximum: 1}
"""

ANSWERS: dict[str, str] = {
    "Good": '{"is_b2b": true, "b2b_confidence": 0.8}',
    "Seven": '{"is_b2b": true, "b2b_confidence": 7}',
    "Nan": '{"is_b2b": true, "b2b_confidence": NaN}',
    "Inf": '{"is_b2b": false, "b2b_confidence": Infinity}',
}


@pytest.fixture
def llm(monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenAIServer]:
    def answer(body: dict[str, Any]) -> str:
        prompt = body["messages"][-1]["content"] if body["messages"] else ""
        asked = next((m["content"] for m in body["messages"] if m["role"] == "user"), prompt)
        name = asked.removeprefix("Is ").removesuffix(" B2B?")
        return ANSWERS[name]

    with OpenAIServer(answer) as server:
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        yield server


def test_llm_answers_out_of_range_nan_and_infinity_fail(
    store: LeadStore, tmp_path: Path, llm: OpenAIServer
) -> None:
    store.import_rows("demo", [(n.lower(), {"name": n}) for n in ANSWERS])
    workflow = compile_one(tmp_path, LLM)
    summary = materialize(store, workflow)
    assert (summary.ok, summary.failed) == (1, 3)
    # The schema sent carries the declared range, from the same validator.
    schema = llm.requests[0].json["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["b2b_confidence"] == {
        "type": "number",
        "minimum": 0.5,
        "maximum": 1,
    }
    results = store.results("demo")
    assert results["good"][("llm_b2b", "ask")].outputs == {"is_b2b": True, "b2b_confidence": 0.8}
    seven = results["seven"][("llm_b2b", "ask")]
    assert seven.status == FAILED and seven.outputs is None
    assert "7 is above 1" in (seven.error or "") or "above the maximum 1" in (seven.error or "")
    for row in ("nan", "inf"):
        assert results[row][("llm_b2b", "ask")].status == FAILED
    assert_agree(store, workflow, ok=1, failed=3)
    # Each invalid answer was asked once more before the row failed: 1 + 3 * 2 requests.
    assert llm.count("/v1/chat/completions") == 7


def test_the_store_refuses_nan_on_both_backends(store: LeadStore) -> None:
    """The last line, for any JSON column: NaN is never written on either backend."""
    from lead_pipeline.store import NodeResult

    store.import_rows("demo", [("r", {"name": "x"})])
    bad = NodeResult(
        lead_list="demo",
        row_id="r",
        workflow="w",
        node="n",
        node_index=0,
        status=OK,
        config_hash="h",
        outputs={"x": math.nan},
    )
    # SQLite's driver path wraps the serializer's ValueError in a StatementError.
    refused = (ValueError, StatementError)
    with pytest.raises(refused, match="Out of range float values are not JSON compliant"):
        store.record_result(bad)
    assert store.results("demo") == {}
