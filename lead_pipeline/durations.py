"""Durations as people write them in workflow files and settings: ``90d``, ``12h``, ``30m``, ``2w``.

One parser for a node's ``max_age`` and the response cache's lifetimes, so both
accept the same spellings and refuse the same mistakes.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Any

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(value: Any) -> timedelta:
    """``90d``, ``12h``, ``30m``, ``2w`` or a number of days, as a positive timedelta."""
    if isinstance(value, timedelta):
        delta = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ValueError(f"a duration must be a finite number of days, got {value!r}")
        delta = timedelta(days=float(value))
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"expected a duration such as 90d, 12h, 30m or 2w, got {value!r}")
        delta = timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
    if delta <= timedelta(0):
        raise ValueError(f"a duration must be positive, got {value!r}")
    return delta


def show_duration(delta: timedelta) -> str:
    """The shortest exact spelling: ``90d``, ``12h``, ``30m``."""
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{delta.total_seconds():g}s"
