"""The ``lead-pipeline`` command: parse, call the library, print.

Each subcommand is a module of this package with one ``add`` function that
declares its arguments and one ``run`` function that does the work; to add a
subcommand, write the module and list its name and module in ``SUBCOMMANDS``.
Commands return an exit code; user errors are printed by ``main`` as one line
(see ``common``).

A command line that names a subcommand imports that subcommand's module only:
each module pulls in what its own command needs (``export`` the exporter,
``import`` the readers), not what the others need. The whole parser (every
module) is built for ``--help``, ``--version`` and a command line that names no
known subcommand, so their output and errors are argparse's own.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import signal
import sys
from collections.abc import Sequence

from lead_pipeline import __version__
from lead_pipeline.cli.common import COULD_NOT_RUN_EXIT, USER_ERROR_EXIT, user_errors
from lead_pipeline.outlets import guard_process

# Subcommand name -> its module in this package, in the order ``--help`` lists them.
SUBCOMMANDS: dict[str, str] = {
    "import": "import_list",
    "export": "export_list",
    "status": "status",
    "lists": "lists",
    "enrich": "enrich",
    "batches": "batches",
    "errors": "errors",
    "trace": "trace",
    "workflows": "workflows",
    "sync": "sync",
    "mcp": "mcp_server",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command's parser: with ``command``, only that subcommand (its module alone is
    imported); without, every subcommand."""
    parser = argparse.ArgumentParser(
        prog="lead-pipeline", description="Lead-list enrichment with Dagster."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module in SUBCOMMANDS.items():
        if command is None or name == command:
            importlib.import_module(f"{__name__}.{module}").add(sub)
    return parser


def _named_command(argv: Sequence[str]) -> str | None:
    """The subcommand a command line names first, if it is one of ours; a top-level option
    (``-h``, ``--version``) or an unknown command needs the whole parser."""
    return argv[0] if argv and argv[0] in SUBCOMMANDS else None


def main(argv: Sequence[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(_named_command(words))
    args = parser.parse_args(words)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        code = _exit_code(exc)
        if code is None:
            raise
        from lead_pipeline.providers.redact import scrub

        message = " ".join(scrub(str(exc)).split())
        print(f"error: {message}", file=sys.stderr)
        return code


def _exit_code(exc: Exception) -> int | None:
    """The README's exit status for an error printed as one line, or None (a bug: raise)."""
    if isinstance(exc, user_errors()):
        return USER_ERROR_EXIT
    from lead_pipeline.store import StoreUnwritable

    if isinstance(exc, StoreUnwritable):  # the store refused: the workflow could not run
        return COULD_NOT_RUN_EXIT
    return None


def entry() -> None:
    """The console script and ``python -m lead_pipeline.cli``: :func:`main`, then exit.

    Before exiting, ``gc.freeze()`` moves every object to the collector's permanent
    generation, so the interpreter's teardown no longer walks Dagster's, pandas' and
    SQLAlchemy's objects in its final collections; the exit handlers (logging's flush,
    multiprocessing's clean-up, temporary files) run as usual. From the last line to
    the exit, ``benchmarks/exit_teardown.py --runs 5`` measured 15.8 s without it and
    0.71 s with it at a load average of 22 on 2 cores (3.1 s and 0.25 s at 18; running
    the exit handlers by hand then ``os._exit``, what this did before through a private
    CPython call, 0.08 s). An unexpected exception still ends the process with its
    traceback, and ``main`` itself returns, for callers in the same process.
    """
    guard_process()  # whatever this process and its children print or log is scrubbed
    # A command a shell script starts in the background (`lead-pipeline enrich ... &`)
    # inherits SIGINT ignored, and a Dagster run maps SIGTERM onto SIGINT's handler, so
    # `kill PID` was ignored as well: the run could only be SIGKILLed, its steps orphaned.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        code = main()
    finally:  # an interrupt or a traceback ends the process as quickly as a return
        gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    entry()
