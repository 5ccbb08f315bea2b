"""An ``http`` node's answers go through the one reader: a gzip bomb, a body past the
configured cap and a trickle each fail their row with one line, through a workflow run
against a stand-in API on 127.0.0.1; the other rows are answered."""

from __future__ import annotations

from pathlib import Path

import pytest

from lead_pipeline.providers.urlguard import TRUSTED_HOSTS_ENV
from lead_pipeline.store import FAILED, OK, LeadStore
from lead_pipeline_tests.engine.test_output_validation import compile_one
from lead_pipeline_tests.engine.test_runner import materialize
from lead_pipeline_tests.servers import RecordedRequest, Reply, StubServer

MB = 1_000_000


class HostileApi(StubServer):
    """``GET /company?name=``: ``bomb`` answers 1 GB of gzip, ``big`` 3 KB of plain JSON,
    ``slow`` trickles its answer a byte at a time, anything else a small record."""

    def handle(self, request: RecordedRequest) -> Reply:
        name = request.param("name")
        if name == "bomb":
            return Reply(json={"employees": 1}, gzip_bomb=1000 * MB)
        if name == "big":
            return Reply(json={"employees": 1, "padding": "x" * 3000})
        if name == "slow":
            return Reply(json={"employees": 1, "padding": "x" * 400}, trickle=0.05)
        return Reply(json={"employees": 12})


NODE = """\
name: headcount
nodes:
  - id: lookup
    type: http
    provider: example
    url: "{base}/company"
    params: {{name: "{{{{ name }}}}"}}
    extract: {{headcount: "employees"}}
    outputs: {{headcount: integer}}
"""


def test_hostile_answers_fail_their_rows_with_one_line(
    store: LeadStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEAD_PIPELINE_ANSWER_LIMITS", '{"example": "2KB"}')
    monkeypatch.setenv("LEAD_PIPELINE_TIMEOUTS", '{"total": 1, "read": 30}')
    monkeypatch.setenv("LEAD_PIPELINE_RETRY", '{"max_attempts": 1}')
    with HostileApi() as api:
        monkeypatch.setenv(TRUSTED_HOSTS_ENV, f"127.0.0.1:{api.port}")
        store.import_rows("demo", [(n, {"name": n}) for n in ("bomb", "big", "slow", "fine")])
        workflow = compile_one(tmp_path, NODE.format(base=api.root_url))
        summary = materialize(store, workflow)
    assert (summary.ok, summary.failed) == (1, 3)
    results = {rid: r[("headcount", "lookup")] for rid, r in store.results("demo").items()}
    assert results["fine"].status == OK and results["fine"].outputs == {"headcount": 12}
    for rid in ("bomb", "big"):
        assert results[rid].status == FAILED
        assert results[rid].error == "example: answer larger than 2 KB after decompression; refused"
    assert results["slow"].status == FAILED
    assert results["slow"].error == "example: GET /company timed out (attempt 1 of 1)"
