"""What a node reads, and the hash of exactly that: the basis of staleness.

The loader derives every node's inputs when the workflows load (the columns
its templates, expressions and node-type configuration name, and the
parameters it uses). The engine then hands a node only those values, and
records beside each result a hash of them: a result is stale when the hash of
what the node would read now differs from the one it was computed from. Since
the node cannot see anything else, nothing it depends on escapes the hash.

A node's ``when`` guard is kept apart from its body: the guard's inputs decide
whether the node runs, the body's inputs what it answers. A threshold only the
guard reads therefore re-runs exactly the rows whose guard outcome changed.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lead_pipeline.store.records import ID_COLUMN

# Prefixes of the input hash of a skipped result, saying why it was skipped.
WHEN_SKIP = "when:"
WHERE_SKIP = "where:"
WHEN_FALSE_NOTE = "when is false"
WHERE_FALSE_NOTE = "where is false"
MISSING_INPUT_NOTE = "missing input"


def is_empty(value: Any) -> bool:
    """No usable value: null, NaN, blank text, an empty list or object."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple | dict):
        return not value
    return False


def digest(payload: Any) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class NodeInputs:
    """The columns and parameters one node reads.

    ``columns`` maps each column to the fields that read it (``prompt``,
    ``values.score``, ``requires``...), for messages; ``when_columns`` and
    ``when_params`` are the guard's. ``whole_row`` is set for nodes whose code
    sees every value (``python`` nodes without ``reads``); ``all_params`` when a
    template uses ``params`` other than as ``params.NAME``.
    """

    columns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    params: frozenset[str] = frozenset()
    when_columns: frozenset[str] = frozenset()
    when_params: frozenset[str] = frozenset()
    requirements: tuple[tuple[str, ...], ...] = ()
    whole_row: bool = False
    all_params: bool = False

    def every_column(self) -> set[str]:
        return set(self.columns) | set(self.when_columns)

    def view(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The row as the node may see it: its inputs and the row id, nothing else.

        An input this row lacks reads as null (a canonical field the list does not
        map, a column a sparse JSON record left out), as it does in expressions;
        a node that cannot do without it says so with ``requires``.
        """
        if self.whole_row:
            return dict(values)
        seen = {column: values.get(column) for column in self.columns}
        if ID_COLUMN in values:
            seen[ID_COLUMN] = values[ID_COLUMN]
        return seen

    def param_view(self, params: Mapping[str, Any]) -> dict[str, Any]:
        if self.all_params:
            return dict(params)
        return {name: params[name] for name in self.params if name in params}

    def body_hash(self, values: Mapping[str, Any], params: Mapping[str, Any]) -> str:
        """The hash of what the node's body reads for this row."""
        if self.whole_row:
            row = {k: v for k, v in values.items() if k != ID_COLUMN}
        else:
            row = {column: values.get(column) for column in self.columns}
        return digest([row, self.param_view(params)])

    def when_hash(self, values: Mapping[str, Any], params: Mapping[str, Any]) -> str:
        row = {column: values.get(column) for column in self.when_columns}
        return WHEN_SKIP + digest([row, {p: params.get(p) for p in self.when_params}])

    def missing(self, values: Mapping[str, Any]) -> str | None:
        """The first requirement no value meets (``description or one_liner``), or None."""
        for alternatives in self.requirements:
            if all(is_empty(values.get(column)) for column in alternatives):
                return " or ".join(alternatives)
        return None
