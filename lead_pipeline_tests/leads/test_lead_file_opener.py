"""The one lead-file opener, tried with what is not a lead file, on every path that reads one.

Each hostile entry is tried in every format (the extension decides the reader),
through the importer, the ``import`` command and the lead-file sensor. A refusal
is one line naming the file, never a traceback, and never quotes the file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lead_pipeline.cli import main
from lead_pipeline.defs.resources import LeadStoreResource
from lead_pipeline.defs.sensors import scan
from lead_pipeline.leads import LeadFileError, import_file, read_records
from lead_pipeline.leads.opener import LeadFileLimits, read_lead_bytes
from lead_pipeline.settings import reset_settings
from lead_pipeline.store import LeadStore

FORMATS = ["csv", "tsv", "json", "jsonl", "parquet"]
LINE_FORMATS = ["csv", "tsv", "jsonl"]
SECRET = "root:$6$s3cr3t-hash-NEVER-PRINTED:19000:0:99999:7:::"


def _fifo(path: Path) -> str:
    os.mkfifo(path)
    return "is a named pipe (FIFO), not a regular file"


def _dir(path: Path) -> str:
    path.mkdir()
    return "is a directory, not a regular file"


def _link_to(target: str, kind: str) -> Callable[[Path], str]:
    def make(path: Path) -> str:
        path.symlink_to(target)
        return f"is a symbolic link to {os.path.realpath(target)}, which is {kind}"

    return make


def _link_to_fifo(path: Path) -> str:
    fifo = path.with_name("pipe")
    os.mkfifo(fifo)
    path.symlink_to(fifo)
    return f"is a symbolic link to {fifo}, which is a named pipe (FIFO), not a regular file"


def _dangling(path: Path) -> str:
    path.symlink_to(path.with_name("gone"))
    return "which does not exist"


HOSTILE = {
    "link-to-dev-zero": _link_to("/dev/zero", "a character device, not a regular file"),
    "link-to-dev-urandom": _link_to("/dev/urandom", "a character device, not a regular file"),
    "link-to-dev-null": _link_to("/dev/null", "a character device, not a regular file"),
    "link-to-a-directory": _link_to("/etc", "a directory, not a regular file"),
    "fifo": _fifo,
    "link-to-fifo": _link_to_fifo,
    "directory": _dir,
    "dangling-link": _dangling,
}


@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    def set_limits(file_mb: int | None = None, line_kb: int | None = None) -> None:
        if file_mb is not None:
            monkeypatch.setenv("LEAD_PIPELINE_MAX_LEAD_FILE_MB", str(file_mb))
        if line_kb is not None:
            monkeypatch.setenv("LEAD_PIPELINE_MAX_LEAD_LINE_KB", str(line_kb))
        reset_settings()

    return set_limits


def one_line_error(err: str) -> str:
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


def cli_import(capsys: pytest.CaptureFixture[str], path: Path) -> str:
    code = main(["import", str(path), "--lead", "l"])
    out, err = capsys.readouterr()
    assert (code, out) == (2, ""), (code, out, err)
    return one_line_error(err)


def sensor_errors(folder: Path, db_url: str, cursor: dict[str, str] | None = None) -> list[str]:
    resource = LeadStoreResource(db_url=db_url)
    try:
        return scan(folder, cursor or {}, resource).errors
    finally:
        resource.get().dispose()


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("hostile", list(HOSTILE))
def test_what_is_not_a_regular_file_is_refused_on_every_path(
    capsys: pytest.CaptureFixture[str],
    store: LeadStore,
    db_url: str,
    tmp_path: Path,
    fmt: str,
    hostile: str,
) -> None:
    folder = tmp_path / "leads"
    folder.mkdir()
    path = folder / f"acme.{fmt}"
    words = HOSTILE[hostile](path)
    with pytest.raises(LeadFileError) as info:
        import_file(store, path, "acme")
    assert str(info.value).startswith(f"{path}: ") and words in str(info.value)
    assert store.list_info("acme") is None
    err = cli_import(capsys, path)
    assert err == f"error: {info.value}\n"
    [error] = sensor_errors(folder, db_url)
    assert error == str(info.value)


def test_the_sensor_reports_a_refused_entry_once_while_it_stays(
    db_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "leads"
    folder.mkdir()
    (folder / "zero.csv").symlink_to("/dev/zero")
    (folder / "good.csv").write_text("name,website\nAcme,acme.com\n", encoding="utf-8")
    resource = LeadStoreResource(db_url=db_url)
    try:
        first = scan(folder, {}, resource)
        assert [name for name, _ in first.imported] == ["good"]
        [error] = first.errors
        assert "zero.csv: is a symbolic link to /dev/zero, which is a character device" in error
        again = scan(folder, first.cursor, resource)
        assert again.errors == [] and again.imported == []
        (folder / "zero.csv").unlink()
        assert "zero.csv" not in scan(folder, again.cursor, resource).cursor
    finally:
        resource.get().dispose()


def test_a_link_to_a_regular_file_is_followed(store: LeadStore, tmp_path: Path) -> None:
    real = tmp_path / "real.csv"
    real.write_text("name,website\nAcme,acme.com\n", encoding="utf-8")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    assert import_file(store, link, "acme").added == 1


def _big_file(path: Path, fmt: str, size: int) -> None:
    """A well-formed file of about ``size`` bytes in ``fmt``, with the secret in it."""
    rows = [{"name": f"Company {i} {SECRET}", "website": f"c{i}.com"} for i in range(size // 80)]
    if fmt == "parquet":
        # Random-looking text so it does not compress below the cap.
        table = pa.table({"name": [os.urandom(40).hex() for _ in rows],
                          "website": [r["website"] for r in rows]})  # fmt: skip
        pq.write_table(table, path, compression="none")
    elif fmt == "json":
        path.write_text(json.dumps(rows), encoding="utf-8")
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    else:
        sep = "\t" if fmt == "tsv" else ","
        lines = [f"name{sep}website"] + [f"{r['name']}{sep}{r['website']}" for r in rows]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_file_past_the_size_cap_is_refused_naming_its_size(
    capsys: pytest.CaptureFixture[str],
    store: LeadStore,
    db_url: str,
    tmp_path: Path,
    fmt: str,
    limits: Callable[..., None],
) -> None:
    folder = tmp_path / "leads"
    folder.mkdir()
    path = folder / f"big.{fmt}"
    _big_file(path, fmt, 1_300_000)
    assert path.stat().st_size > 1_000_000
    assert len(read_records(path)) > 10_000  # under the default cap it reads
    limits(file_mb=1)
    with pytest.raises(LeadFileError) as info:
        import_file(store, path, "big")
    message = str(info.value)
    assert message.startswith(f"{path}: the file is ") and "the limit is 1 MB" in message
    assert "LEAD_PIPELINE_MAX_LEAD_FILE_MB" in message and SECRET not in message
    assert store.list_info("big") is None
    assert cli_import(capsys, path) == f"error: {message}\n"
    assert sensor_errors(folder, db_url) == [message]


def test_a_parquet_file_that_inflates_past_the_cap_is_refused(
    capsys: pytest.CaptureFixture[str],
    store: LeadStore,
    db_url: str,
    tmp_path: Path,
    limits: Callable[..., None],
) -> None:
    folder = tmp_path / "leads"
    folder.mkdir()
    path = folder / "bomb.parquet"
    rows = 20_000
    pq.write_table(pa.table({"name": ["x" * 1_000] * rows, "website": ["a.com"] * rows}), path,
                   compression="zstd", use_dictionary=False)  # fmt: skip
    assert path.stat().st_size < 200_000  # 20 MB of text in a few kilobytes
    limits(file_mb=5)
    with pytest.raises(LeadFileError, match=r"bomb\.parquet: its data is .* once decompressed; "
                       r"the limit is 5 MB"):  # fmt: skip
        import_file(store, path, "bomb")
    # The same rows dictionary-encoded: small in the footer, large once decoded.
    pq.write_table(pa.table({"name": ["x" * 1_000] * rows, "website": ["a.com"] * rows}), path,
                   compression="zstd", use_dictionary=True)  # fmt: skip
    with pytest.raises(LeadFileError, match="once decompressed; the limit is 5 MB") as info:
        import_file(store, path, "bomb")
    assert store.list_info("bomb") is None
    assert cli_import(capsys, path) == f"error: {info.value}\n"
    assert sensor_errors(folder, db_url) == [str(info.value)]


def _long_line_file(path: Path, fmt: str, line_bytes: int) -> None:
    """Two good rows, then line 4 holding one cell of ``line_bytes`` (with the secret)."""
    cell = (SECRET + "x" * line_bytes)[:line_bytes]
    if fmt == "jsonl":
        rows = [{"name": "A", "website": "a.com"}, {"name": "B", "website": "b.com"}]
        lines = [json.dumps(r) for r in rows] + ["", json.dumps({"name": cell})]
    else:
        sep = "\t" if fmt == "tsv" else ","
        lines = [f"name{sep}website", f"A{sep}a.com", f"B{sep}b.com", f"{cell}{sep}c.com"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.parametrize("fmt", LINE_FORMATS)
def test_a_line_past_the_line_cap_is_refused_naming_it(
    capsys: pytest.CaptureFixture[str],
    store: LeadStore,
    db_url: str,
    tmp_path: Path,
    fmt: str,
    limits: Callable[..., None],
) -> None:
    folder = tmp_path / "leads"
    folder.mkdir()
    path = folder / f"long.{fmt}"
    _long_line_file(path, fmt, 3_000_000)  # past the default 1 MB line
    with pytest.raises(LeadFileError) as info:
        import_file(store, path, "long")
    message = str(info.value)
    assert message == (
        f"{path}, line 4: the line is longer than 1,024 KB, the limit for one record "
        "(set LEAD_PIPELINE_MAX_LEAD_LINE_KB to raise it)"
    )
    assert cli_import(capsys, path) == f"error: {message}\n"
    assert sensor_errors(folder, db_url) == [message]
    limits(line_kb=4_000)  # raised, the line reads; its cell is then over the cell cap
    with pytest.raises(LeadFileError, match="line 4") as info:
        import_file(store, path, "long")
    assert SECRET not in str(info.value) and "limit" in str(info.value)


@pytest.mark.parametrize("head", [0, 1, 4_095, 150_000, 299_999])
def test_the_line_cap_holds_across_read_chunks(tmp_path: Path, head: int) -> None:
    # Lines of exactly the cap, shifted so 1 MiB read chunks end at many places in them:
    # each line is counted once, whole, wherever the chunks split it.
    cap = 300_000
    limits = LeadFileLimits(max_file_bytes=10_000_000, max_line_bytes=cap)
    path = tmp_path / "lines.csv"
    good = b"a" * cap + b"\n"
    path.write_bytes(b"h" * head + b"\n" + good * 10)
    assert len(read_lead_bytes(path, line_based=True, limits=limits)) == path.stat().st_size
    for bad in (3, 4, 8, 11):  # line numbers of the one line past the cap
        lines = [b"h" * head + b"\n", *[good] * 10]
        lines[bad - 1] = b"z" * (cap + 1) + b"\n"
        path.write_bytes(b"".join(lines))
        with pytest.raises(LeadFileError, match=rf"line {bad}: the line is longer than 300 KB"):
            read_lead_bytes(path, line_based=True, limits=limits)
    path.write_bytes(b"h" * head + b"\n" + good * 3 + b"z" * (cap + 1))  # the last, unended
    with pytest.raises(LeadFileError, match="line 5: the line is longer"):
        read_lead_bytes(path, line_based=True, limits=limits)


def test_a_minified_json_array_is_one_line_and_reads(
    store: LeadStore, tmp_path: Path, limits: Callable[..., None]
) -> None:
    limits(line_kb=10)
    path = tmp_path / "min.json"
    path.write_text(json.dumps([{"name": f"C{i}", "website": f"c{i}.com"} for i in range(2_000)]))
    assert path.stat().st_size > 20_000 and b"\n" not in path.read_bytes()
    assert import_file(store, path, "min").added == 2_000


@pytest.mark.parametrize("fmt", ["csv", "tsv"])
def test_a_quoted_cell_running_over_many_lines_stops_the_parser(
    capsys: pytest.CaptureFixture[str], store: LeadStore, db_url: str, tmp_path: Path, fmt: str
) -> None:
    # Every line is short, but one quoted cell spans 50,000 of them (1 MB): refused at
    # the cell, naming the record's first line, with nothing of it quoted.
    sep = "\t" if fmt == "tsv" else ","
    folder = tmp_path / "leads"
    folder.mkdir()
    path = folder / f"quoted.{fmt}"
    cell = "\n".join([SECRET[:18]] * 50_000)
    path.write_text(f'name{sep}website\nA{sep}a.com\n"{cell}"{sep}b.com\n', encoding="utf-8")
    with pytest.raises(LeadFileError) as info:
        import_file(store, path, "quoted")
    message = str(info.value)
    assert message.startswith(f"{path}, line 3: a cell is longer than 400,000 characters")
    assert SECRET[:18] not in message
    assert cli_import(capsys, path) == f"error: {message}\n"
    assert sensor_errors(folder, db_url) == [message]


def test_a_secret_file_linked_as_a_lead_file_is_not_quoted(
    capsys: pytest.CaptureFixture[str], store: LeadStore, db_url: str, tmp_path: Path
) -> None:
    # A regular file that is no lead list (a copy of /etc/shadow's layout): its
    # first line sits where a header would, and no error may print it.
    secret = tmp_path / "shadow"
    secret.write_text(f"{SECRET}\ndaemon:*:19000:0:99999:7:::\n", encoding="utf-8")
    folder = tmp_path / "leads"
    folder.mkdir()
    for fmt in ("csv", "tsv", "jsonl", "json"):
        path = folder / f"shadow-{fmt}.{fmt}"
        path.symlink_to(secret)
        with pytest.raises(LeadFileError) as info:
            import_file(store, path, "shadow")
        assert SECRET not in str(info.value) and "s3cr3t" not in str(info.value)
        assert "s3cr3t" not in cli_import(capsys, path)
        for argv in (["--id-column", "id"], ["--map", "name=Company"]):
            main(["import", str(path), "--lead", "l", *argv])
            assert "s3cr3t" not in capsys.readouterr().err
    errors = sensor_errors(folder, db_url)
    assert len(errors) == 4 and not any("s3cr3t" in e for e in errors)


def _peak_rss_mb(argv: list[str], env: dict[str, str]) -> float:
    """Peak resident memory of a ``lead-pipeline`` subprocess, in MB."""
    script = (
        "import resource, subprocess, sys\n"
        "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    cli = str(Path(sys.executable).with_name("lead-pipeline"))
    done = subprocess.run([sys.executable, "-c", script, cli, *argv], env=env,
                          capture_output=True, text=True, check=True)  # fmt: skip
    return int(done.stdout.strip()) / 1024


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_dev_zero_and_a_huge_line_cost_no_more_memory_than_a_refused_directory(
    tmp_path: Path, fmt: str
) -> None:
    # The size cap raised so the line cap is what stops the 64 MB line: without it the
    # reader held the whole line (and the old reader ten times that).
    env = {**os.environ, "LEAD_PIPELINE_DATA_DIR": str(tmp_path / "data"),
           "LEAD_PIPELINE_MAX_LEAD_FILE_MB": "1000"}  # fmt: skip
    directory = tmp_path / f"folder.{fmt}"
    directory.mkdir()
    zero = tmp_path / f"zero.{fmt}"
    zero.symlink_to("/dev/zero")
    huge = tmp_path / f"huge.{fmt}"
    with huge.open("wb") as handle:
        handle.write(b'{"name": "' if fmt == "jsonl" else b"name,website\n")
        for _ in range(64):
            handle.write(b"x" * 1_000_000)
        handle.write(b'"}\n' if fmt == "jsonl" else b",a.com\n")
    base = _peak_rss_mb(["import", str(directory), "--lead", "x"], env)
    for path in (zero, huge):
        peak = _peak_rss_mb(["import", str(path), "--lead", "x"], env)
        assert peak - base < 16, (path.name, base, peak)  # two 1 MiB chunks, not 64 MB


def test_a_parquet_value_repeated_on_every_row_is_refused_before_it_is_copied(
    tmp_path: Path,
) -> None:
    # One 4 MB value on 256 rows: 16 KB on disk, 4 MB in the footer (the dictionary holds
    # it once), 1 GB once each row has its copy. Measured from the dictionary, refused
    # before any copy is made.
    path = tmp_path / "repeated.parquet"
    # Written from its dictionary (the 4 MB value once, 256 indices into it): built as 256
    # plain strings, the test spent 6.5 s CPU copying and hashing 1 GB. No Arrow schema is
    # stored, so a reader sees a plain string column, as it did in the file built that way.
    name = pa.DictionaryArray.from_arrays(pa.array([0] * 256, pa.int32()), ["x" * 4_000_000])
    table = pa.table({"name": name, "website": ["a.com"] * 256})
    pq.write_table(table, path, compression="zstd", use_dictionary=True, store_schema=False)
    del table, name
    assert pq.ParquetFile(path).schema_arrow.field("name").type == pa.string()
    assert path.stat().st_size < 1_000_000
    env = {**os.environ, "LEAD_PIPELINE_DATA_DIR": str(tmp_path / "data"),
           "LEAD_PIPELINE_MAX_LEAD_FILE_MB": "10"}  # fmt: skip
    directory = tmp_path / "folder.parquet"
    directory.mkdir()
    base = _peak_rss_mb(["import", str(directory), "--lead", "x"], env)
    peak = _peak_rss_mb(["import", str(path), "--lead", "x"], env)
    assert peak - base < 100, (base, peak)  # copied per row it would be 1,000 MB more
    limits = LeadFileLimits(max_file_bytes=10_000_000, max_line_bytes=1_000_000)
    with pytest.raises(LeadFileError, match="its data is over 10 MB once decompressed"):
        read_records(path, limits=limits)
