"""Write a file so that it appears whole or not at all, and leaves no temporary file behind.

An export is written beside its target and moved into place when complete, so a
reader never sees half a file. Where that temporary file lives decides what an
interruption leaves:

* On Linux the file is created **unnamed** (``O_TMPFILE``) and given a name only
  once it is complete. Ctrl-C, a write error (a full disk), SIGKILL or the
  out-of-memory killer mid-write leave nothing: an unnamed file vanishes with its
  last descriptor. Only the instant between naming it and moving it over the
  target remains, and the sweep below covers that.
* Elsewhere (or on a file system without ``O_TMPFILE``) the file is a hidden
  ``.<target>.<pid>.<random>.tmp`` removed on any exception. A process killed
  outright cannot remove it, so every write first **sweeps** the temporary files
  of the same target left by processes of this host that are gone.

The file gets the user's usual permissions (mode 0666 less the umask), as a
plain ``open`` would, rather than ``mkstemp``'s 0600.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


def temporary_name(target: Path) -> Path:
    """The hidden name a write to ``target`` uses before it moves into place."""
    return target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def sweep(target: Path) -> list[Path]:
    """Remove the temporary files of writes to ``target`` whose process is gone."""
    pattern = re.compile(rf"^\.{re.escape(target.name)}\.(\d+)\.[0-9a-f]{{8}}\.tmp$")
    removed = []
    with contextlib.suppress(OSError):
        for entry in target.parent.iterdir():
            match = pattern.match(entry.name)
            if match and not _alive(int(match.group(1))):
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()
                    removed.append(entry)
    return removed


def _unnamed(folder: Path) -> int | None:
    """A descriptor of a new unnamed file in ``folder``, or None where there is no such thing."""
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None or not os.path.isdir("/proc/self/fd"):  # no way to name it later
        return None
    try:
        return os.open(folder, flag | os.O_WRONLY | os.O_CLOEXEC, 0o666)
    except OSError:  # the file system does not support it
        return None


@contextmanager
def atomic_write(target: Path, *, binary: bool, encoding: str = "utf-8") -> Iterator[IO[Any]]:
    """A handle whose content replaces ``target`` when the block ends without an exception."""
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep(target)
    fd = _unnamed(target.parent)
    if fd is None:
        with _named(target, binary=binary, encoding=encoding) as handle:
            yield handle
        return
    mode = "wb" if binary else "w"
    text: dict[str, Any] = {} if binary else {"encoding": encoding, "newline": ""}
    with os.fdopen(fd, mode, **text) as handle:
        yield handle
        handle.flush()
        tmp = temporary_name(target)
        folder = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            # linkat(AT_SYMLINK_FOLLOW) on /proc/self/fd names an O_TMPFILE file.
            os.link(f"/proc/self/fd/{fd}", tmp.name, dst_dir_fd=folder, follow_symlinks=True)
        finally:
            os.close(folder)
        _move(tmp, target)


@contextmanager
def _named(target: Path, *, binary: bool, encoding: str) -> Iterator[IO[Any]]:
    tmp = temporary_name(target)
    try:
        if binary:
            with tmp.open("xb") as handle:
                yield handle
        else:
            with tmp.open("x", encoding=encoding, newline="") as handle:
                yield handle
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _move(tmp, target)


def _move(tmp: Path, target: Path) -> None:
    try:
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
