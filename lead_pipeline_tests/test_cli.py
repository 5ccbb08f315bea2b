"""The ``lead-pipeline`` command as a user runs it: output, files, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lead_pipeline.cli import main
from lead_pipeline.settings import get_settings
from lead_pipeline.store import OK, LeadStore, NodeResult

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE = REPO_ROOT / "data" / "leads" / "yc-f25.json"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def table_row(out: str, marker: str) -> list[str]:
    """The cells of the first rich table row holding ``marker``."""
    line = next(line for line in out.splitlines() if "│" in line and marker in line)
    return [cell.strip() for cell in line.split("│")[1:-1]]


def test_sample_list_ships_148_companies() -> None:
    companies = json.loads(SAMPLE.read_text(encoding="utf-8"))
    assert len(companies) == 148
    assert all(c.get("name") and c.get("website") for c in companies)


def test_import_registers_a_partition_and_is_idempotent(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "import", str(SAMPLE), "--lead", "yc-f25")
    assert (code, err) == (0, "")
    assert "148" in out and "added" in out

    from lead_pipeline.defs.partitions import LEAD_LISTS, instance

    assert instance().get_dynamic_partitions(LEAD_LISTS) == ["yc-f25"]
    assert (get_settings().dagster_home / "dagster.yaml").is_file()

    code, out, _ = run(capsys, "import", str(SAMPLE), "--lead", "yc-f25")
    assert code == 0
    # added, updated, unchanged, pruned, rows in file
    assert table_row(out, "148") == ["0", "0", "148", "0", "148"]
    assert instance().get_dynamic_partitions(LEAD_LISTS) == ["yc-f25"]


def test_status_lists_and_export(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    leads = tmp_path / "mini.csv"
    leads.write_text("name,website\n=cmd(),a.com\nBeta,b.com\n")
    assert run(capsys, "import", str(leads), "--lead", "mini")[0] == 0

    code, out, _ = run(capsys, "status", "--lead", "mini")
    assert code == 0 and "mini: 2 rows" in out and "my_wf" not in out

    store = LeadStore()
    try:
        store.record_result(
            NodeResult(
                lead_list="mini",
                row_id="a.com",
                workflow="my_wf",  # not a shipped workflow: counted by the nodes that ran
                node="rule",
                node_index=0,
                status=OK,
                config_hash="h" * 64,
                outputs={"is_b2b": True},
                cost=0.125,
            )
        )
    finally:
        store.dispose()
    code, out, _ = run(capsys, "status", "--lead", "mini")
    assert code == 0
    # workflow, ok, failed, pending, skipped, stale, cost, why stale
    # No workflow file defines my_wf: its results are shown as retired, nothing pending.
    row = table_row(out, "my_wf")  # the name cell may wrap "(retired)" onto a second line
    assert row[0].startswith("my_wf") and "retired: my_wf" in out
    assert row[1:] == ["1", "0", "-", "0", "0", "0.1250", "-"]

    code, out, _ = run(capsys, "lists")
    assert code == 0 and "mini" in out and str(leads.resolve())[:20] in out

    code, out, _ = run(capsys, "export", "--lead", "mini", "--format", "csv")
    default = get_settings().data_dir / "exports" / "mini.csv"
    assert code == 0 and default.is_file()
    assert default.read_text().splitlines()[1] == "a.com,'=cmd(),a.com,true"

    custom = tmp_path / "out" / "mini.jsonl"
    code, _, _ = run(capsys, "export", "--lead", "mini", "--format", "jsonl", "--out", str(custom))
    assert code == 0
    assert [json.loads(x)["_id"] for x in custom.read_text().splitlines()] == ["a.com", "b.com"]


def test_prune_and_id_column(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "crm.csv"
    path.write_text("crm,name\n1,A\n2,B\n")
    assert run(capsys, "import", str(path), "--lead", "crm", "--id-column", "crm")[0] == 0
    path.write_text("crm,name\n2,B\n")
    assert run(capsys, "import", str(path), "--lead", "crm", "--id-column", "crm")[0] == 0
    store = LeadStore()
    try:
        assert [r.row_id for r in store.rows("crm")] == ["1", "2"]
        args = ("import", str(path), "--lead", "crm", "--id-column", "crm", "--prune")
        code, out, _ = run(capsys, *args)
        assert code == 0 and table_row(out, "1")[3] == "1"  # pruned
        assert [r.row_id for r in store.rows("crm")] == ["2"]
    finally:
        store.dispose()


def test_user_errors_are_one_line_with_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("name,website\nA,a.com\nB,https://www.a.com/\n")
    code, out, err = run(capsys, "import", str(bad), "--lead", "bad")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"error: {bad}, line 3, field 'website'")
    assert "duplicate id 'a.com'" in err and "line 2" in err

    code, _, err = run(capsys, "status", "--lead", "nope")
    assert code == 2 and err.startswith("error: lead list 'nope' does not exist")

    code, _, err = run(capsys, "export", "--lead", "nope", "--format", "csv")
    assert code == 2 and "does not exist" in err
    assert not (get_settings().data_dir / "exports").exists()


@pytest.mark.parametrize("name", ["../x", "a;drop table", "YC-F25"])
def test_bad_lead_names_are_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["import", str(SAMPLE), "--lead", name])
    assert info.value.code == 2
    assert "lowercase letters, digits" in capsys.readouterr().err
    assert not (get_settings().data_dir / "lead_pipeline.db").exists()


def test_database_password_never_printed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Port 1 on loopback: nothing listens, so the connection is refused at once.
    url = "postgresql+psycopg://lead:hunter2-secret@127.0.0.1:1/leads?connect_timeout=5"
    monkeypatch.setenv("LEAD_PIPELINE_DB_URL", url)
    code, _, err = run(capsys, "lists")
    assert code == 2
    assert err.startswith("error: cannot open the lead store at postgresql+psycopg://lead:***@")
    assert "hunter2" not in err


def test_console_script_is_installed(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "lead-pipeline"
    assert script.is_file(), "pip install -e . creates the lead-pipeline command"
    done = subprocess.run(
        [str(script), "lists"], capture_output=True, text=True, timeout=120, check=False
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert "no lead lists yet" in done.stdout


def test_a_misspelt_workflow_parameter_is_refused_before_any_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from lead_pipeline.defs.partitions import instance

    sample = Path(__file__).resolve().parents[1] / "data" / "leads" / "yc-f25.json"
    assert run(capsys, "import", str(sample), "--lead", "yc-f25")[0] == 0
    code, _, err = run(capsys, "enrich", "--lead", "yc-f25", "--param", "llm_treshold=0.9")
    assert code == 2
    assert "unknown workflow parameter(s) llm_treshold (known: llm_threshold)" in err
    assert instance().get_runs() == []  # refused before Dagster was asked for a run
    assert LeadStore().status("yc-f25").workflows == []  # and nothing was written


@pytest.mark.parametrize(
    ("flag", "value"), [("--parallel", "0"), ("--max-cost", "-1"), ("--max-shards", "0")]
)
def test_out_of_range_run_options_name_the_flag(
    capsys: pytest.CaptureFixture[str], flag: str, value: str
) -> None:
    sample = Path(__file__).resolve().parents[1] / "data" / "leads" / "yc-f25.json"
    assert run(capsys, "import", str(sample), "--lead", "yc-f25")[0] == 0
    code, _, err = run(capsys, "enrich", "--lead", "yc-f25", flag, value)
    assert code == 2 and err.startswith(f"error: {flag}: ")
