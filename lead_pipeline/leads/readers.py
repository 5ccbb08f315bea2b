"""Read CSV, TSV, JSON, JSONL and Parquet into records that remember where they came from.

Each record carries its location in the file ("line 7", "record 3 (line 40)") so
that every later check (cell sizes, ids, duplicates) can point the user at the
exact spot to fix. Readers do no validation beyond the format itself.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import io
import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from lead_pipeline.leads.errors import LeadFileError
from lead_pipeline.leads.opener import (
    MAX_CELL_BYTES,
    LeadFileLimits,
    open_lead_file,
    read_lead_bytes,
)

READ_FORMATS: dict[str, str] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_REPLACEMENT = "\ufffd"


@dataclass(frozen=True)
class SourceRecord:
    """One row of a lead file, as read, with where it sits in the file."""

    location: str
    fields: dict[str, Any]


def detect_format(path: Path, fmt: str | None = None) -> str:
    if fmt is not None:
        if fmt not in set(READ_FORMATS.values()):
            raise LeadFileError(
                path, f"unknown format {fmt!r}; use one of {', '.join(_format_names())}"
            )
        return fmt
    found = READ_FORMATS.get(path.suffix.lower())
    if found is None:
        raise LeadFileError(
            path,
            f"cannot tell the format from the extension {path.suffix or '(none)'!r}; "
            f"use one of {', '.join(sorted(READ_FORMATS))}",
        )
    return found


def _format_names() -> list[str]:
    return sorted(set(READ_FORMATS.values()))


def read_records(
    path: str | Path,
    fmt: str | None = None,
    *,
    delimiter: str | None = None,
    limits: LeadFileLimits | None = None,
) -> list[SourceRecord]:
    """Every record of a lead file; raises :class:`LeadFileError` on anything unreadable.

    ``delimiter`` (CSV only) is one of :data:`DELIMITERS`; without it a CSV
    file's delimiter is detected. The file is opened through
    :func:`~lead_pipeline.leads.opener.open_lead_file`: regular files only, within
    the size and line caps (``limits``, default from the settings).
    """
    path = Path(path)
    kind = detect_format(path, fmt)
    if delimiter is not None:
        if kind != "csv":
            raise LeadFileError(path, f"--delimiter applies to CSV files, and this is {kind}")
        try:
            delimiter = parse_delimiter(delimiter)
        except ValueError as exc:
            raise LeadFileError(path, f"--delimiter {exc}") from None
    limits = limits or LeadFileLimits.from_settings()
    if kind == "parquet":
        records = _read_parquet(path, limits)
    else:
        data = read_lead_bytes(path, line_based=kind != "json", limits=limits)
        if not data or data.isspace():
            raise LeadFileError(path, "the file is empty")
        parse = _TEXT_PARSERS[kind]
        if kind == "csv":
            chosen = delimiter

            def parse(path: Path, text: str) -> Iterator[SourceRecord]:
                return _parse_delimited(path, text, chosen or sniff_delimiter(text), chosen)

        text = _decode(path, data, parse)
        del data  # parsing holds the text only
        records = list(parse(path, text))
    if not records:
        raise LeadFileError(path, "the file has no records")
    return records


# ---- text decoding ---------------------------------------------------------


def _decode(
    path: Path, data: bytes | bytearray, parse: Callable[[Path, str], Iterator[SourceRecord]]
) -> str:
    """UTF-8 (with or without BOM) or UTF-16 with BOM; anything else is refused.

    On a bad byte, the file is parsed once more with replacement characters so
    the error can name the record field holding it, not only the line.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise LeadFileError(path, "starts like UTF-16 but is not valid UTF-16") from None
    if b"\x00" in data[:4096]:
        return _decode_utf16_without_bom(path, data)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        field = _field_with_replacement(path, data.decode("utf-8-sig", errors="replace"), parse)
        raise LeadFileError(
            path,
            f"byte 0x{data[exc.start]:02x} at offset {exc.start} is not UTF-8; "
            "save the file as UTF-8",
            location=f"line {line}",
            field=field,
        ) from None


def _decode_utf16_without_bom(path: Path, data: bytes | bytearray) -> str:
    """Text saved as UTF-16 with no byte-order mark: mostly-ASCII text has a NUL beside each letter.

    Which side the NULs fall on tells little- from big-endian. Any other NUL
    byte means the file is not text at all.
    """
    sample = data[:4096]
    odd = sample[1::2].count(0)
    even = sample[0::2].count(0)
    half = len(sample) // 2
    encoding = "utf-16-le" if odd > half * 0.6 else "utf-16-be" if even > half * 0.6 else None
    if encoding is None:
        offset = data.index(b"\x00")
        line = data.count(b"\n", 0, offset) + 1
        raise LeadFileError(
            path,
            f"holds a NUL byte at offset {offset}: not a text file; save it as UTF-8",
            location=f"line {line}",
        )
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise LeadFileError(
            path,
            f"looks like {encoding.upper()} without a byte-order mark, but byte {exc.start} "
            "is not valid there; save the file as UTF-8",
        ) from None


def _field_with_replacement(
    path: Path, text: str, parse: Callable[[Path, str], Iterator[SourceRecord]]
) -> str | None:
    with contextlib.suppress(LeadFileError):
        for record in parse(path, text):
            for key, value in record.fields.items():
                if _REPLACEMENT in key or _REPLACEMENT in json.dumps(value, ensure_ascii=False):
                    return key
    return None


# ---- CSV and TSV -----------------------------------------------------------


@contextlib.contextmanager
def _field_limit(limit: int) -> Iterator[None]:
    """Set the csv module's cell limit to ours, so a huge cell stops the parser early."""
    old = csv.field_size_limit()
    csv.field_size_limit(limit)
    try:
        yield
    finally:
        csv.field_size_limit(old)


DELIMITERS: dict[str, str] = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_DELIMITER_NAMES = {"comma": ",", "semicolon": ";", "tab": "\t", "\\t": "\t", "pipe": "|"}
_SNIFF_CHARS = 200_000
_CSV_CELL_CHARS = 4 * MAX_CELL_BYTES
_SNIFF_RECORDS = 50


def parse_delimiter(value: str) -> str:
    """``--delimiter``: the character itself or its name (``tab`` for a tab)."""
    found = value if value in DELIMITERS else _DELIMITER_NAMES.get(value.strip().lower())
    if found is None:
        names = ", ".join(f"{name!r} ({char!r})" for char, name in DELIMITERS.items())
        raise ValueError(f"{value!r} is not a delimiter; use one of {names}")
    return found


def _widths(text: str, delimiter: str) -> list[int]:
    """Cells per record in the first records of ``text`` split on ``delimiter``."""
    sample = text[:_SNIFF_CHARS]
    cut = len(text) > _SNIFF_CHARS
    reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
    widths: list[int] = []
    try:
        for cells in reader:
            if cells and any(c.strip() for c in cells):
                widths.append(len(cells))
                if len(widths) > _SNIFF_RECORDS:
                    break
    except csv.Error:
        return []
    if cut and len(widths) <= _SNIFF_RECORDS:
        widths = widths[:-1]  # the sample may end inside the last record
    return widths


def _consistent(widths: list[int]) -> bool:
    return bool(widths) and widths[0] > 1 and all(w == widths[0] for w in widths)


def sniff_delimiter(text: str) -> str:
    """The delimiter that splits every sampled record into the header's number of cells.

    Of those that do, the one giving the most columns wins (ties go to comma,
    then semicolon, tab, pipe): a semicolon file whose descriptions hold commas
    splits evenly on semicolons only. When none splits evenly (a ragged file),
    the one that splits the header widest, so the error names the bad line.
    """
    best, best_width = ",", 0
    widest, widest_header = ",", 1
    for delimiter in DELIMITERS:
        widths = _widths(text, delimiter)
        if _consistent(widths) and widths[0] > best_width:
            best, best_width = delimiter, widths[0]
        if widths and widths[0] > widest_header:
            widest, widest_header = delimiter, widths[0]
    return best if best_width else widest


def _looks_like(text: str, delimiter: str) -> str:
    """A hint naming the delimiter the file seems to use, when it is not ``delimiter``."""
    for other, name in DELIMITERS.items():
        if other != delimiter and _consistent(_widths(text, other)):
            return f"; the file looks {name}-delimited: pass --delimiter {name}"
    return ""


def _parse_delimited(
    path: Path, text: str, delimiter: str, given: str | None = None
) -> Iterator[SourceRecord]:
    kind = "TSV" if delimiter == "\t" and given is None else "CSV"
    split_on = DELIMITERS[delimiter]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    header: list[str] | None = None
    header_line = 0
    # Past the cell cap a cell is refused by validation, which names its field; far
    # past it (a quoted cell running on over many lines) the parser stops here.
    with _field_limit(_CSV_CELL_CHARS):
        while True:
            start = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                if "field larger than field limit" in str(exc):
                    raise LeadFileError(
                        path,
                        f"a cell is longer than {_CSV_CELL_CHARS:,} characters; the limit "
                        f"for one cell is {MAX_CELL_BYTES:,} bytes ({MAX_CELL_BYTES // 1000} KB)",
                        location=f"line {start}",
                    ) from None
                if "end of data" in str(exc):
                    # The quote that never closes opened somewhere in this record.
                    problem, line = "a quoted cell in this record is never closed", start
                else:
                    problem, line = str(exc), reader.line_num
                raise LeadFileError(
                    path,
                    f'malformed {kind}: {problem} (a quote inside a quoted cell is written as "")'
                    + _looks_like(text, delimiter),
                    location=f"line {line}",
                ) from None
            if not cells or all(c.strip() == "" for c in cells):
                continue
            if header is None:
                header = _header(path, cells, start)
                header_line = start
                if len(header) == 1 and (hint := _looks_like(text, delimiter)):
                    raise LeadFileError(
                        path,
                        f"split on {split_on}s, every line is one wide column{hint}",
                        location=f"line {start}",
                    )
                continue
            location = f"line {start}"
            if len(cells) != len(header):
                raise LeadFileError(
                    path,
                    f"malformed {kind}: {len(cells)} cells but the header (line {header_line}) "
                    f"has {len(header)} columns (split on {split_on}s)"
                    + _looks_like(text, delimiter),
                    location=location,
                )
            yield SourceRecord(
                location,
                {name: (None if v == "" else v) for name, v in zip(header, cells, strict=True)},
            )
    if header is None:
        raise LeadFileError(path, "the file is empty")


def _header(path: Path, cells: list[str], line: int) -> list[str]:
    names = [c.strip() for c in cells]
    seen: dict[str, int] = {}
    for index, name in enumerate(names, start=1):
        if not name:
            raise LeadFileError(
                path, f"column {index} of the header has no name", location=f"line {line}"
            )
        if name in seen:
            raise LeadFileError(
                path,
                f"the header names this column twice (columns {seen[name]} and {index})",
                location=f"line {line}",
                field=name,
            )
        seen[name] = index
    return names


def _parse_csv(path: Path, text: str) -> Iterator[SourceRecord]:
    return _parse_delimited(path, text, sniff_delimiter(text))


def _parse_tsv(path: Path, text: str) -> Iterator[SourceRecord]:
    return _parse_delimited(path, text, "\t")


# ---- JSON and JSONL --------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class DuplicateKeyError(ValueError):
    """One JSON object naming the same key twice: which value is meant is a guess."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"duplicate key {key!r}")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise DuplicateKeyError(key)
        found[key] = value
    return found


_DECODER = json.JSONDecoder(parse_constant=_reject_constant, object_pairs_hook=_unique_keys)


def _decode_value(path: Path, text: str, pos: int, location: str) -> tuple[Any, int]:
    """One JSON value at ``pos``; duplicate keys and runaway nesting named by field."""
    try:
        return _DECODER.raw_decode(text, pos)
    except DuplicateKeyError as exc:
        raise LeadFileError(
            path,
            f"the key {exc.key!r} appears twice in one object; keep one of them",
            location=location,
            field=exc.key,
        ) from None
    except RecursionError:
        line, field = _deepest_spot(text, pos)
        raise LeadFileError(
            path,
            f"values nest deeper than {MAX_NESTING} levels; a lead's fields are flat or shallow",
            # A JSONL location is its line already; a JSON record's says where it starts.
            location=location
            if not line or location.startswith("line ")
            else f"{location}, nesting from line {line}",
            field=field,
        ) from None


def _deepest_spot(text: str, pos: int) -> tuple[int | None, str | None]:
    """Where a value starting at ``pos`` first nests past the cap, and its top-level key.

    Only runs on the error path, so a plain scan is fine.
    """
    depth = 0
    key: str | None = None
    for match in _TOKENS.finditer(text, pos):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > MAX_NESTING:
                return text.count("\n", 0, match.start()) + 1, key
        elif token in "]}":
            depth -= 1
            if depth <= 0:
                break
        elif depth == 1 and match.group("key") is not None:
            with contextlib.suppress(ValueError):
                key = json.loads(match.group("key"))
    return None, key


_TOKENS = re.compile(r'(?P<key>"(?:[^"\\]|\\.)*")\s*:|"(?:[^"\\]|\\.)*"|[\[\]{}]')
MAX_NESTING = 32


def _json_error(path: Path, text: str, exc: Exception, pos: int | None = None) -> LeadFileError:
    if isinstance(exc, json.JSONDecodeError):
        return LeadFileError(
            path,
            f"malformed JSON: {exc.msg}",
            location=f"line {exc.lineno}, column {exc.colno}",
        )
    line = text.count("\n", 0, pos or 0) + 1
    return LeadFileError(path, f"malformed JSON: {exc}", location=f"line {line}")


def _parse_json(path: Path, text: str) -> Iterator[SourceRecord]:
    """A JSON array of objects, walked element by element to know each one's line."""
    pos = _WHITESPACE.match(text, 0).end()  # type: ignore[union-attr]
    if not text.startswith("[", pos):
        try:
            kind = type(_decode_value(path, text, pos, "line 1")[0]).__name__
        except LeadFileError:
            raise
        except (json.JSONDecodeError, ValueError) as exc:
            raise _json_error(path, text, exc, pos) from None
        raise LeadFileError(
            path,
            f"expected a JSON array of objects, found a JSON {_JSON_KIND.get(kind, kind)}",
            location="line 1",
        )
    pos += 1
    line = 1 + text.count("\n", 0, pos)
    counted = pos
    index = 0
    while True:
        pos = _WHITESPACE.match(text, pos).end()  # type: ignore[union-attr]
        if text.startswith("]", pos):
            pos += 1
            break
        if index > 0:
            if not text.startswith(",", pos):
                raise _json_error(
                    path, text, json.JSONDecodeError("expected ',' or ']'", text, pos)
                )
            pos = _WHITESPACE.match(text, pos + 1).end()  # type: ignore[union-attr]
        line += text.count("\n", counted, pos)
        counted = pos
        location = f"record {index + 1} (line {line})"
        try:
            value, pos = _decode_value(path, text, pos, location)
        except LeadFileError:
            raise
        except (json.JSONDecodeError, ValueError) as exc:
            raise _json_error(path, text, exc, pos) from None
        index += 1
        yield SourceRecord(location, _object(path, value, location))
    rest = text[pos:].strip()
    if rest:
        raise _json_error(path, text, json.JSONDecodeError("extra data after the array", text, pos))


_JSON_KIND = {"dict": "object", "list": "array", "str": "string", "int": "number",
              "float": "number", "bool": "boolean", "NoneType": "null"}  # fmt: skip


def _object(path: Path, value: Any, location: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        kind = type(value).__name__
        raise LeadFileError(
            path,
            f"expected a JSON object, found a JSON {_JSON_KIND.get(kind, kind)}",
            location=location,
        )
    return value


# JSON's own whitespace: ``str.strip()`` would also drop U+2028, U+0085 and friends,
# which JSON text may hold raw inside a string but never between tokens.
_JSON_SPACE = " \t\r\n"


def _parse_jsonl(path: Path, text: str) -> Iterator[SourceRecord]:
    """One JSON object per line, lines split on ``\\n`` only (JSON Lines' rule).

    ``str.splitlines()`` would also break at U+2028, U+2029, U+0085 and other
    characters a JSON string may hold raw, refusing valid files (and our own
    exports of such text). A ``\\r`` before the ``\\n`` is JSON whitespace.
    """
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip(_JSON_SPACE):
            continue
        location = f"line {number}"
        try:
            value = _decode_line(path, line, location)
        except LeadFileError:
            raise
        except json.JSONDecodeError as exc:
            raise LeadFileError(
                path, f"malformed JSON: {exc.msg}", location=f"line {number}, column {exc.colno}"
            ) from None
        except ValueError as exc:
            raise LeadFileError(path, f"malformed JSON: {exc}", location=location) from None
        yield SourceRecord(location, _object(path, value, location))


def _decode_line(path: Path, line: str, location: str) -> Any:
    start = _WHITESPACE.match(line, 0).end()  # type: ignore[union-attr]
    value, end = _decode_value(path, line, start, location)
    if line[end:].strip(_JSON_SPACE):
        raise json.JSONDecodeError("Extra data", line, end)
    return value


_TEXT_PARSERS: dict[str, Callable[[Path, str], Iterator[SourceRecord]]] = {
    "csv": _parse_csv,
    "tsv": _parse_tsv,
    "json": _parse_json,
    "jsonl": _parse_jsonl,
}


# ---- Parquet ---------------------------------------------------------------


_PARQUET_BATCH_ROWS = 256


def _read_parquet(path: Path, limits: LeadFileLimits) -> list[SourceRecord]:
    """Parquet through the opener, its decoded size held to the file cap.

    A few kilobytes of Parquet can inflate to gigabytes (compression, a dictionary
    value repeated on every row), so the size cap applies to what it decodes to:
    first to the column chunks' uncompressed sizes in the footer, then to each
    batch of rows before its text becomes Python strings. Text columns are read
    dictionary-encoded, so a batch whose rows repeat one huge value is measured,
    and refused, before that value is copied once per row.
    """
    cap = limits.max_file_bytes
    records: list[SourceRecord] = []
    decoded = 0
    with open_lead_file(path, limits) as handle:
        # Once the file is known to be one to read: pyarrow costs 0.3 s of CPU beyond what
        # ``lead-pipeline --help`` loads, and only a Parquet import pays it.
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            footer = pq.ParquetFile(handle)
            meta = footer.metadata
            inflated = sum(
                meta.row_group(g).column(c).total_uncompressed_size
                for g in range(meta.num_row_groups)
                for c in range(meta.num_columns)
            )
            if inflated > cap:
                raise _inflates(path, f"{inflated / 1_000_000:,.1f} MB", cap)
            text = [f.name for f in footer.schema_arrow if _is_text(pa, f.type)]
            parquet = pq.ParquetFile(handle, metadata=meta, read_dictionary=text)
            for batch in parquet.iter_batches(batch_size=_PARQUET_BATCH_ROWS):
                decoded += _decoded_size(batch)
                if decoded > cap:
                    raise _inflates(path, f"over {cap // 1_000_000:,} MB", cap)
                for row in batch.to_pylist():
                    location = f"record {len(records) + 1}"
                    records.append(SourceRecord(location, _plain_row(path, row, location)))
        except (pa.ArrowException, OSError) as exc:
            raise LeadFileError(path, f"not a readable Parquet file: {exc}") from None
    return records


def _is_text(pa: Any, kind: Any) -> bool:
    return bool(
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
    )


def _decoded_size(batch: Any) -> int:
    """Bytes the batch's values take once every row has its own copy of each value."""
    import pyarrow as pa  # 0.36 s of CPU with pyarrow.compute: only a Parquet import pays it
    import pyarrow.compute as pc

    size = 0
    for column in batch.columns:
        if pa.types.is_dictionary(column.type):
            lengths = pc.take(pc.binary_length(column.dictionary), column.indices)
            size += (pc.sum(lengths).as_py() or 0) + column.indices.nbytes
        else:
            size += column.nbytes
    return size


def _inflates(path: Path, size: str, cap: int) -> LeadFileError:
    return LeadFileError(
        path,
        f"its data is {size} once decompressed; the limit is {cap // 1_000_000:,} MB "
        "(set LEAD_PIPELINE_MAX_LEAD_FILE_MB to raise it, or split the file)",
    )


def _plain_row(path: Path, row: dict[str, Any], location: str) -> dict[str, Any]:
    fields = {}
    for key, value in row.items():
        try:
            fields[str(key)] = _plain(value)
        except TypeError as exc:
            raise LeadFileError(path, str(exc), location=location, field=str(key)) from None
    return fields


def _plain(value: Any) -> Any:
    """Parquet's richer types as JSON values, so every backend can store them."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        # Parquet maps arrive as lists of (key, value) pairs; lists stay lists.
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise TypeError("binary values that are not UTF-8 text are not supported") from None
    raise TypeError(f"values of type {type(value).__name__} are not supported")
