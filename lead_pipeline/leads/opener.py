"""The one way a lead file is opened: a regular file, within the size and line caps.

Every reader of lead files (``import``, the lead-file sensor, each format's reader)
opens the file here, so one place decides what may be read:

* **Regular files only.** A symbolic link is followed and must land on a regular
  file; a directory, a named pipe (FIFO), a character or block device (``/dev/zero``,
  ``/dev/urandom``), a socket, or a link to any of them is refused before a byte is
  read, naming the file and what it is. A FIFO would block the reader forever and a
  device never ends: a link to ``/dev/zero`` was read until the machine ran out of memory.
* **A size cap** (``LEAD_PIPELINE_MAX_LEAD_FILE_MB``, default 100 MB), checked on the
  file's size before reading and again while reading, so a file that grows under
  the reader (or a ``/proc`` file that says it is empty) cannot get past it.
* **A line cap** for line-based formats (CSV, TSV, JSONL:
  ``LEAD_PIPELINE_MAX_LEAD_LINE_KB``, default 1024 KB), checked while the bytes
  arrive, so a single 200 MB line is refused after reading its first megabyte
  instead of being parsed at ten times its size. Each cell is capped at
  :data:`MAX_CELL_BYTES` by the readers and the validation.
* **Nothing of a refused file is echoed.** The refusals above name the file, its
  kind, its size or a line number, never its content.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from lead_pipeline.leads.errors import LeadFileError, display_path
from lead_pipeline.settings import get_settings

# A lead's cell is a name, a URL, a description: far below this. A bigger cell is
# almost always a broken export (a whole page pasted into one cell) and would
# bloat every prompt and export it reaches.
MAX_CELL_BYTES = 100_000

_CHUNK = 1 << 20

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


@dataclass(frozen=True)
class LeadFileLimits:
    """How big a lead file and one of its lines may be, in bytes."""

    max_file_bytes: int
    max_line_bytes: int

    @classmethod
    def from_settings(cls) -> LeadFileLimits:
        settings = get_settings()
        return cls(
            max_file_bytes=settings.max_lead_file_mb * 1_000_000,
            max_line_bytes=settings.max_lead_line_kb * 1_000,
        )


def _size(count: int) -> str:
    if count >= 1_000_000:
        return f"{count / 1_000_000:,.1f} MB"
    return f"{count / 1_000:,.1f} KB" if count >= 1_000 else f"{count} bytes"


def _kind(mode: int) -> str:
    for test, kind in _KINDS:
        if test(mode):
            return kind
    return "not a regular file"


def _refuse_kind(path: Path, mode: int) -> LeadFileError:
    kind = _kind(mode)
    if path.is_symlink():
        target = display_path(os.path.realpath(path))
        return LeadFileError(
            path, f"is a symbolic link to {target}, which is {kind}, not a regular file"
        )
    return LeadFileError(path, f"is {kind}, not a regular file")


def _too_big(path: Path, size: str, limits: LeadFileLimits) -> LeadFileError:
    return LeadFileError(
        path,
        f"the file is {size}; the limit is {limits.max_file_bytes // 1_000_000:,} MB "
        "(set LEAD_PIPELINE_MAX_LEAD_FILE_MB to raise it, or split the file)",
    )


@contextmanager
def open_lead_file(path: Path, limits: LeadFileLimits | None = None) -> Iterator[BinaryIO]:
    """``path`` opened for binary reading, once it is known to be a regular file under the cap.

    The kind is checked before opening (opening a device or a FIFO can block or have
    effects) and again on the opened descriptor, so a file swapped between the two
    checks is caught too.
    """
    limits = limits or LeadFileLimits.from_settings()
    try:
        before = os.stat(path)
    except FileNotFoundError:
        if path.is_symlink():
            target = display_path(os.path.realpath(path))
            raise LeadFileError(
                path, f"is a symbolic link to {target}, which does not exist"
            ) from None
        raise LeadFileError(path, "no such file") from None
    except OSError as exc:
        raise LeadFileError(path, f"cannot be read: {exc.strerror or exc}") from None
    if not stat.S_ISREG(before.st_mode):
        raise _refuse_kind(path, before.st_mode)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise LeadFileError(path, f"cannot be read: {exc.strerror or exc}") from None
    handle = os.fdopen(fd, "rb")
    with handle:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode):
            raise _refuse_kind(path, opened.st_mode)
        if opened.st_size > limits.max_file_bytes:
            raise _too_big(path, _size(opened.st_size), limits)
        yield handle


def read_lead_bytes(
    path: Path, *, line_based: bool, limits: LeadFileLimits | None = None
) -> bytearray:
    """Every byte of the lead file at ``path``, refusing it past the size or the line cap.

    ``line_based`` formats (CSV, TSV, JSONL) hold one record per line, so a line
    longer than the cap is refused as soon as that many bytes of it have arrived.
    A JSON array may be one long line (minified), so only the size cap applies.
    """
    limits = limits or LeadFileLimits.from_settings()
    data = bytearray()
    line_start = 0  # where the line still being read starts in ``data``
    with open_lead_file(path, limits) as handle:
        while chunk := handle.read(_CHUNK):
            if len(data) + len(chunk) > limits.max_file_bytes:
                raise _too_big(path, "larger than it was when opened", limits)
            scanned = len(data)
            data += chunk
            if line_based:
                line_start = _check_lines(path, data, scanned, line_start, limits.max_line_bytes)
    if line_based and len(data) - line_start > limits.max_line_bytes:
        raise _line_too_long(path, data, line_start, limits.max_line_bytes)
    return data


def _check_lines(path: Path, data: bytearray, scanned: int, line_start: int, cap: int) -> int:
    """Refuse a line in ``data[scanned:]`` longer than ``cap``; where the open line starts."""
    last = data.rfind(b"\n", scanned)
    if last == -1:
        if len(data) - line_start > cap:
            raise _line_too_long(path, data, line_start, cap)
        return line_start
    first = data.find(b"\n", scanned)
    if first - line_start > cap:
        raise _line_too_long(path, data, line_start, cap)
    if first < last and max(map(len, data[first + 1 : last].split(b"\n"))) > cap:
        start = first + 1
        while (end := data.find(b"\n", start)) - start <= cap:
            start = end + 1
        raise _line_too_long(path, data, start, cap)
    return last + 1


def _line_too_long(path: Path, data: bytearray, start: int, cap: int) -> LeadFileError:
    line = data.count(b"\n", 0, start) + 1
    return LeadFileError(
        path,
        f"the line is longer than {cap // 1000:,} KB, the limit for one record "
        "(set LEAD_PIPELINE_MAX_LEAD_LINE_KB to raise it)",
        location=f"line {line}",
    )
