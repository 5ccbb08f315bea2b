"""The output columns workflows declare, as the importer and exporter need them.

Import must know which columns are the pipeline's (so an imported ``is_b2b``
never hides the workflow's answer, and our own export re-imports as it was);
export must know which outputs are declared ``preview: false``. Both read the
declarations, not the results: a workflow that has not run yet still owns its
columns.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from lead_pipeline.workflows.errors import WorkflowError

if TYPE_CHECKING:
    from lead_pipeline.workflows import OutputSpec

log = logging.getLogger(__name__)


def declared_outputs() -> dict[str, OutputSpec]:
    """Every output column of the built-in and user workflows.

    A broken user workflow file must not block an import or an export: then
    only the built-ins are read, with a warning naming the problem.
    """
    # Imported here, not for a cycle (there is none) but for the light start: the loader
    # (YAML, the expression and template compilers) costs 0.11 s of CPU on top of what
    # ``lead-pipeline --help`` loads, which imports this module; only import and export
    # call this.
    from lead_pipeline.workflows.loader import BUILTIN_DIR, load_workflows

    try:
        workflows = load_workflows()
    except WorkflowError as exc:
        log.warning("workflows did not load (%s); using the built-in ones' outputs", exc)
        try:
            workflows = load_workflows([], builtin_dirs=[BUILTIN_DIR])
        except WorkflowError:
            return {}
    found: dict[str, OutputSpec] = {}
    for workflow in workflows:
        for node in workflow.nodes:
            for column, output in node.spec.outputs.items():
                found.setdefault(column, output)
    return found


def singular(column: str) -> str:
    """``founders`` -> ``founder``: the stem of an array's flattened columns."""
    return column[:-1] if column.endswith("s") and len(column) > 1 else column
