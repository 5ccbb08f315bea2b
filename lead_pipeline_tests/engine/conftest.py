"""A small JSON API on 127.0.0.1 and a two-node ``http`` workflow that calls it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lead_pipeline.engine.compile import CompiledWorkflow
from lead_pipeline.engine.registry import registry
from lead_pipeline.providers.urlguard import TRUSTED_HOSTS_ENV
from lead_pipeline.store import LeadStore
from lead_pipeline.workflows.loader import load_workflows
from lead_pipeline_tests.servers import RecordedRequest, Reply, StubServer


class CompanyApi(StubServer):
    """``GET /profile?name=`` answers a size; ``POST /score`` answers a score.

    ``fail_names`` get a 404 (not retried) so a row fails; ``on_score`` lets a
    test look at the world at the moment the second node's request arrives.
    """

    def __init__(self, **knobs: Any) -> None:
        super().__init__(**knobs)
        self.fail_names: set[str] = set()
        self.on_score: Callable[[dict[str, Any]], None] | None = None

    def handle(self, request: RecordedRequest) -> Reply:
        if request.path == "/profile":
            name = request.param("name") or ""
            if name in self.fail_names:
                return Reply(status=404, json={"error": f"no company {name}"})
            return Reply(json={"profile": {"size": len(name) * 10, "name": name}})
        if request.path == "/score":
            body = json.loads(request.body)
            if self.on_score is not None:
                self.on_score(body)
            return Reply(json={"score": body["size"] / 100})
        return super().handle(request)


WORKFLOW = """\
name: scoring
description: two http nodes in a row
where: "name is not null"
nodes:
  - id: profile
    type: http
    url: "{base}/profile"
    params: {{name: "{{{{ name }}}}"}}
    extract: {{size: "profile.size"}}
    outputs: {{size: integer}}
  - id: score
    type: http
    method: POST
    url: "{base}/score"
    body: {{row: "{{{{ _id }}}}", size: "{{{{ size }}}}"}}
    extract: {{score: "score"}}
    outputs: {{score: number}}
"""

DOWNSTREAM = """\
name: ranking
needs: [scoring]
where: "score >= 0.5"
nodes:
  - id: rank
    type: expression
    values: {rank: "score * 10"}
    outputs: {rank: number}
"""


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[CompanyApi]:
    with CompanyApi() as server:
        # The operator vouches for this stand-in: http nodes refuse loopback otherwise.
        monkeypatch.setenv(TRUSTED_HOSTS_ENV, f"127.0.0.1:{server.port}")
        yield server


@pytest.fixture
def workflow_dir(tmp_path: Path, api: CompanyApi) -> Path:
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "scoring.yaml").write_text(WORKFLOW.format(base=api.root_url))
    (folder / "ranking.yaml").write_text(DOWNSTREAM)
    return folder


@pytest.fixture
def workflows(workflow_dir: Path) -> dict[str, CompiledWorkflow]:
    return {
        w.name: w for w in load_workflows([workflow_dir], builtin_dirs=[], node_types=registry())
    }


NAMES = ["Acme", "Globex", None, "Initech", "Umbrella", "Hooli", "Vandelay"]


@pytest.fixture
def leads(store: LeadStore) -> LeadStore:
    store.import_rows("demo", [(f"row{i}", {"name": n}) for i, n in enumerate(NAMES)])
    return store
