"""Which workflows a run takes: the one asked for, or the chain, less what cannot run here.

No Dagster here: the CLI, the launcher, the sensor and the schedule all ask
this module, so a workflow whose provider has no key is left out the same way
whichever of them starts the run.
"""

from __future__ import annotations

from collections.abc import Sequence

from lead_pipeline.engine.compile import CompiledWorkflow
from lead_pipeline.engine.registry import NotConfigured
from lead_pipeline.workflows.errors import UnknownWorkflowError


def plan_workflows(
    requested: str, workflows: Sequence[CompiledWorkflow]
) -> tuple[list[CompiledWorkflow], dict[str, str]]:
    """The workflows to run, and those left out because they cannot run here.

    ``all`` means the whole chain in dependency order; a workflow whose provider
    is not configured is left out with the reason, and so is everything that
    needs it. A single named workflow that cannot run is an error.
    """
    by_name = {w.name: w for w in workflows}
    if requested != "all" and requested not in by_name:
        raise UnknownWorkflowError(
            f"unknown workflow {requested!r} (known: {', '.join(by_name) or 'none'})"
        )
    if requested == "all":
        chosen = [w for w in workflows if w.spec.in_all is not False]  # the others: by name
    else:
        chosen = [by_name[requested]]
    runnable: list[CompiledWorkflow] = []
    skipped: dict[str, str] = {}
    for workflow in chosen:
        blocked = [n for n in workflow.spec.needs if n in skipped]
        if blocked:
            skipped[workflow.name] = f"needs {', '.join(blocked)}, which cannot run"
            continue
        try:
            workflow.preflight()
        except NotConfigured as exc:
            if requested != "all":
                raise
            skipped[workflow.name] = str(exc)
            continue
        runnable.append(workflow)
    return runnable, skipped
