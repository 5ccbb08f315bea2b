"""``lead-pipeline import``, ``lists`` and ``status`` with files as users have them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lead_pipeline.cli import main

CRM = (
    "Company Name;Website URL;Description\n"
    "Acme Bank Software;https://acme-bank.example.com;Software for banks, insurers\n"
    "Teen Date;teendate.example;A dating app for teenagers\n"
    "Teen Date;teendate.example;A dating app for teenagers\n"
)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


def test_a_crm_export_prints_its_mapping_and_notes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "hubspot.csv"
    path.write_text(CRM, encoding="utf-8-sig")
    code, out, err = run(capsys, "import", str(path), "--lead", "crm", "--map", "one_liner=")
    assert (code, err) == (0, "")
    assert (
        "fields: name <- Company Name, website <- Website URL, description <- Description, "
        "one_liner <- (none, --map)" in out
    )
    assert "ids: the website's domain, else the name" in out
    assert "note: 1 exact duplicate row(s) collapsed into one" in out

    code, out, _ = run(capsys, "lists")
    assert code == 0 and "crm: fields: name <- Company Name" in out
    code, out, _ = run(capsys, "status", "--lead", "crm")
    assert code == 0 and "fields: name <- Company Name, website <- Website URL" in out


@pytest.mark.parametrize(
    ("argv", "content", "words"),
    [
        (["--delimiter", ","], CRM, "one wide column; the file looks semicolon-delimited"),
        (["--map", "description=Notes"], CRM, "no column 'Notes'"),
        ([], "name,website\nA,a.com\nA,https://a.com/x\n", "--on-duplicate first|last"),
        ([], '[{"name": "A", "x": ' + "[" * 10_000 + "]" * 10_000 + "}]", "deeper than"),
        ([], '[{"name": "A", "name": "B"}]', "appears twice"),
        ([], '[{"name": "A\\ud800"}]', "lone surrogate"),
        ([], "name,website\nA,a.com\n".encode("utf-16-le"), None),
    ],
    ids=["wrong-delimiter", "bad-map", "conflict", "deep", "dup-key",
         "surrogate", "utf16-no-bom"],
)  # fmt: skip
def test_bad_files_and_options_give_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    argv: list[str],
    content: str | bytes,
    words: str | None,
) -> None:
    suffix = ".json" if isinstance(content, str) and content.startswith("[") else ".csv"
    path = tmp_path / f"leads{suffix}"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    code, out, err = run(capsys, "import", str(path), "--lead", "l", *argv)
    if words is None:  # UTF-16 without a BOM is read, not refused
        assert (code, err) == (0, ""), err
        return
    assert code == 2 and out == ""
    assert words in one_line_error(err) and str(path) in err


def test_bad_option_values_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--delimiter", "colon"], ["--map", "nme=Company"], ["--on-duplicate", "any"]):
        with pytest.raises(SystemExit) as info:
            main(["import", "x.csv", "--lead", "l", *argv])
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert err.splitlines()[-1].startswith("lead-pipeline import: error: argument")


def test_another_id_rule_is_refused_on_the_command_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "crm.csv"
    path.write_text("crm_id,name\n1,A\n2,B\n")
    assert run(capsys, "import", str(path), "--lead", "crm")[0] == 0
    code, _, err = run(capsys, "import", str(path), "--lead", "crm", "--id-column", "crm_id")
    assert code == 2 and "double the list" in one_line_error(err)


def test_a_file_name_that_is_not_utf8(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    raw = os.fsencode(tmp_path) + b"/bad-\xff.csv"
    with open(raw, "wb") as handle:
        handle.write(b"name,website\nA,a.com\nB\n")
    code, out, err = run(capsys, "import", os.fsdecode(raw), "--lead", "odd")
    assert code == 2 and "bad-\\xff.csv, line 3" in one_line_error(err)
    with open(raw, "wb") as handle:
        handle.write(b"name,website\nA,a.com\n")
    code, out, err = run(capsys, "import", os.fsdecode(raw), "--lead", "odd")
    assert (code, err) == (0, "") and "bad-\\xff.csv" in out


def test_export_flags_on_the_command_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "crm.csv"
    path.write_text(CRM, encoding="utf-8")
    assert run(capsys, "import", str(path), "--lead", "crm")[0] == 0
    out_file = tmp_path / "crm.csv.out"
    code, out, err = run(
        capsys, "export", "--lead", "crm", "--format", "csv", "--excel", "--out", str(out_file)
    )
    assert (code, err) == (0, "") and "wrote 2 rows" in out
    assert out_file.read_bytes().startswith(b"\xef\xbb\xbf")
    code, _, err = run(capsys, "export", "--lead", "crm", "--format", "csv", "--explode", "x")
    assert code == 2 and "--explode x" in one_line_error(err)
    code, _, err = run(capsys, "export", "--lead", "crm", "--format", "jsonl", "--excel")
    assert code == 2 and "--excel writes CSV" in one_line_error(err)
    with pytest.raises(SystemExit) as info:
        main(["export", "--lead", "crm", "--format", "csv", "--flatten-max", "0"])
    assert info.value.code == 2
