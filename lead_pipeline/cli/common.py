"""What every subcommand shares: the user-error type, the console and the store opener.

Errors a user can fix (a bad file, a bad name, an unknown list) raise one of
``user_errors()``; ``main`` prints them as one line on stderr with exit code 2,
never as a traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any, get_args, get_origin

from pydantic import ValidationError
from rich.console import Console

from lead_pipeline.engine.options import RunOptionFields
from lead_pipeline.leads.errors import LeadFileError
from lead_pipeline.providers.errors import NotConfigured
from lead_pipeline.settings import SettingsError, get_settings
from lead_pipeline.store.names import InvalidNameError, check_name
from lead_pipeline.workflows.errors import WorkflowError

if TYPE_CHECKING:
    from lead_pipeline.store import LeadStore

USER_ERROR_EXIT = 2
# The store refused (it cannot be created, opened or written): the README's "could not run".
COULD_NOT_RUN_EXIT = 3


class CliError(Exception):
    """A problem the user can fix, raised by a command to print it as one line."""


def user_errors() -> tuple[type[BaseException], ...]:
    """The errors printed as one line."""
    # Imported when one is raised: store.lists loads SQLAlchemy, 0.77 s of CPU on top of
    # what ``lead-pipeline --help`` loads (measured at load 20 on 2 cores).
    from lead_pipeline.store.lists import UnknownLeadListError

    return (
        CliError,
        LeadFileError,
        InvalidNameError,
        UnknownLeadListError,
        NotConfigured,
        WorkflowError,
        SettingsError,
    )


# Piped into a file or a CI log, a message is not broken at 80 columns: a path or a row id
# cut in two cannot be searched for or copied. A terminal still gets rich's wrapping.
console = Console(soft_wrap=not sys.stdout.isatty())


def open_store() -> LeadStore:
    """The store at ``LEAD_PIPELINE_DB_URL`` (or the SQLite file under ``data/``)."""
    # Imported when a command opens the store: SQLAlchemy and the store cost 0.5 s and
    # 1.1 s of CPU beyond what ``--help`` loads.
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, OperationalError

    from lead_pipeline.store import LeadStore

    url = get_settings().db_url
    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        raise CliError("LEAD_PIPELINE_DB_URL is not a valid SQLAlchemy URL") from None
    try:
        return LeadStore(url)
    except OperationalError as exc:
        reason = str(exc.orig or exc).strip().splitlines()[0]
        raise CliError(f"cannot open the lead store at {shown}: {reason}") from None


def describe_source(source: str | None) -> str:
    """Where a list came from, for people: its file, or which HubSpot companies."""
    # Imported when a list is described: the HubSpot source costs 1.3 s of CPU on top of
    # what ``lead-pipeline --help`` loads.
    from lead_pipeline.crm.hubspot_source import CompanySelection

    selection = CompanySelection.from_source(source)
    return selection.describe() if selection is not None else (source or "")


def lead_name(value: str) -> str:
    """argparse type: refuse a bad lead list name before anything else runs."""
    try:
        return check_name(value)
    except InvalidNameError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# --- run options as flags: generated from engine.options.RunOptionFields -----------


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _scalar(annotation: Any) -> type:
    """``int | None`` -> ``int``: the type argparse converts the flag's text with."""
    kinds = [a for a in get_args(annotation) if a is not type(None)] or [annotation]
    return kinds[0]


def add_option_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per run option, with the field's description and default as its help.

    Flags left out parse to ``None`` (booleans to ``False``), so only what the
    user typed is passed on and the model's defaults apply to the rest.
    """
    for name, info in RunOptionFields.model_fields.items():
        kind = _scalar(info.annotation)
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        flag = str(extra.get("flag") or _flag(name))  # a field may name its own flag
        if kind is bool:
            parser.add_argument(flag, dest=name, action="store_true", help=info.description)
            continue
        if get_origin(kind) is list:  # repeatable: --row a --row b
            parser.add_argument(
                flag,
                dest=name,
                action="append",
                default=None,
                metavar=str(extra.get("metavar") or "VALUE"),
                help=info.description,
            )
            continue
        default = "" if info.default is None else f" (default {info.default})"
        parser.add_argument(
            flag,
            dest=name,
            type=kind,
            default=None,
            metavar=str(extra.get("metavar") or ("N" if kind in (int, float) else "VALUE")),
            help=f"{info.description}{default}",
        )


def options_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The run options the user gave on the command line, validated.

    Raises ``ValueError`` naming the flag (``--parallel: ...``).
    """
    given = {n: getattr(args, n) for n in RunOptionFields.model_fields}
    given = {n: v for n, v in given.items() if v is not None and v is not False}
    try:
        RunOptionFields(**given)
    except ValidationError as exc:
        error = exc.errors()[0]
        flag = _flag(str(error["loc"][0]))
        raise ValueError(f"{flag}: {error['msg']}, got {error.get('input')!r}") from None
    return given
