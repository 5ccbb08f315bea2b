"""A workflow run reads the canonical fields, whatever the lead file called its columns."""

from __future__ import annotations

import json
from pathlib import Path

from lead_pipeline.engine.registry import registry
from lead_pipeline.leads import import_file
from lead_pipeline.store import LeadStore
from lead_pipeline.workflows.loader import load_workflows
from lead_pipeline_tests.engine.test_runner import materialize

WORKFLOW = """\
name: reads_fields
where: "name != null"
nodes:
  - id: measure
    type: expression
    values: {words: "len(description)", site: "domain(website)", label: "upper(name)"}
    outputs: {words: integer, site: string, label: string}
"""


def test_a_crm_list_and_our_list_get_the_same_answers(store: LeadStore, tmp_path: Path) -> None:
    folder = tmp_path / "wf"
    folder.mkdir()
    (folder / "wf.yaml").write_text(WORKFLOW)
    (workflow,) = load_workflows([folder], builtin_dirs=[], node_types=registry())
    ours = tmp_path / "ours.json"
    ours.write_text(
        json.dumps(
            [
                {"name": "Acme", "website": "https://acme.example", "long_description": "Banks"},
                {"name": "Teen Date", "website": "teen.example", "long_description": "Dating"},
            ]
        )
    )
    crm = tmp_path / "crm.csv"
    crm.write_text(
        "Account Name;Homepage;Company Description\n"
        "Acme;https://acme.example;Banks\nTeen Date;teen.example;Dating\n"
    )
    answers = {}
    for path in (ours, crm):
        import_file(store, path, "demo")  # "demo": the list the engine helper runs on
        summary = materialize(store, workflow)
        assert (summary.ok, summary.failed) == (2, 0)
        frame = store.wide_frame("demo").set_index("_id")
        answers[path.name] = frame[["words", "site", "label"]].to_dict("index")
        store.import_rows("demo", [], prune=True)  # empty the list for the next file
    assert answers["crm.csv"] == answers["ours.json"]
    assert answers["crm.csv"]["acme.example"] == {
        "words": 5,
        "site": "acme.example",
        "label": "ACME",
    }
