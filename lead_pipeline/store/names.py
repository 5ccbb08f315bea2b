"""Lead list names: the one gate every name passes before it reaches a path or a query."""

from __future__ import annotations

import re

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class InvalidNameError(ValueError):
    """A lead list or workflow name outside ``[a-z0-9_-]``."""


def check_name(name: str, what: str = "lead list") -> str:
    """Return ``name`` unchanged, or refuse it.

    Names become Dagster partition keys, file names of exports and values in SQL
    parameters; allowing only lowercase letters, digits, ``-`` and ``_`` (starting
    with a letter or digit, at most 64 characters) closes path traversal and
    identifier tricks at the boundary instead of in every caller.
    """
    # fullmatch, not match: "$" also matches before a trailing newline.
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidNameError(
            f"invalid {what} name {name!r}: use 1-64 lowercase letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    return name
