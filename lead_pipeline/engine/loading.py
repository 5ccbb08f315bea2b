"""Every workflow that loads, and the files that do not: one broken file blocks only itself.

A typo in one user workflow must not stop ``status``, ``export``, ``lists`` or
``enrich`` of the others, nor the Dagster code location. When the whole set
does not load, the user's files are added one at a time to the built-ins,
keeping each that loads with those kept so far (repeated until nothing more
can be added, so a file that needs another one comes in after it). What is
left is broken, or needs a broken one; each problem names its file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lead_pipeline.engine.compile import CompiledWorkflow, load_compiled
from lead_pipeline.workflows import BUILTIN_DIR, WorkflowError
from lead_pipeline.workflows.loader import user_workflow_files


@dataclass(frozen=True)
class LoadedWorkflows:
    workflows: list[CompiledWorkflow]
    broken: list[str] = field(default_factory=list)  # one problem a line, naming its file

    def usable_for(self, requested: str) -> list[CompiledWorkflow]:
        """The workflows, or the broken files' problems when only they could define
        ``requested`` (a name, or ``all``)."""
        names = {w.name for w in self.workflows}
        if requested != "all" and requested not in names and self.broken:
            raise WorkflowError(self.broken)
        return self.workflows

    def warning(self) -> str | None:
        if not self.broken:
            return None
        return (
            "workflow file(s) that did not load are left out, the other workflows work: "
            + "; ".join(self.broken)
        )


def load_usable() -> LoadedWorkflows:
    """Every workflow that loads; raises only when a built-in one does not."""
    try:
        return LoadedWorkflows(load_compiled())
    except WorkflowError:
        pass
    good: list[Path] = []
    pending = user_workflow_files()
    added = True
    while added and pending:
        added = False
        for path in list(pending):
            try:
                load_compiled([*good, path], builtin_dirs=[BUILTIN_DIR])
            except WorkflowError:
                continue
            good.append(path)
            pending.remove(path)
            added = True
    problems: list[str] = []
    for path in pending:
        try:
            load_compiled([*good, path], builtin_dirs=[BUILTIN_DIR])
        except WorkflowError as exc:
            problems.extend(exc.problems)
    return LoadedWorkflows(load_compiled(good, builtin_dirs=[BUILTIN_DIR]), problems)
