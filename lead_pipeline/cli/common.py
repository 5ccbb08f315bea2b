"""What every subcommand shares: the user-error type, the console and the store opener.

Errors a user can fix (a bad file, a bad name, an unknown list) raise one of
``USER_ERRORS``; ``main`` prints them as one line on stderr with exit code 2,
never as a traceback.
"""

from __future__ import annotations

import argparse

from rich.console import Console

from lead_pipeline.engine.compile import WorkflowConfigError
from lead_pipeline.leads import LeadFileError
from lead_pipeline.providers import NotConfigured
from lead_pipeline.settings import SettingsError, get_settings
from lead_pipeline.store import InvalidNameError, LeadStore, UnknownLeadListError, check_name
from lead_pipeline.workflows import WorkflowError

USER_ERROR_EXIT = 2


class CliError(Exception):
    """A problem the user can fix, raised by a command to print it as one line."""


USER_ERRORS: tuple[type[BaseException], ...] = (
    CliError,
    LeadFileError,
    InvalidNameError,
    UnknownLeadListError,
    NotConfigured,
    WorkflowConfigError,
    WorkflowError,
    SettingsError,
)

console = Console()


def open_store() -> LeadStore:
    """The store at ``LEAD_PIPELINE_DB_URL`` (or the SQLite file under ``data/``)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, OperationalError

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


def lead_name(value: str) -> str:
    """argparse type: refuse a bad lead list name before anything else runs."""
    try:
        return check_name(value)
    except InvalidNameError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
