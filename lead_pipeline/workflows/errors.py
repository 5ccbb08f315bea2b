"""The one error a workflow raises: a definition, a parameter or a column that cannot work.

Loading (YAML, schema, node configurations, ``needs``), a run's parameters and a
lead list that lacks a column a workflow reads all fail with :class:`WorkflowError`,
so a caller catches one type; ``problems`` holds one line per problem, each naming
the file, node and field.
"""

from __future__ import annotations

from collections.abc import Sequence


class WorkflowError(ValueError):
    """One or more problems with workflows; ``problems`` holds one line per problem."""

    def __init__(self, problems: str | Sequence[str]) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        if len(self.problems) == 1:
            message = self.problems[0]
        else:
            message = f"{len(self.problems)} problems in workflow definitions:\n" + "\n".join(
                f"- {problem}" for problem in self.problems
            )
        super().__init__(message)


class UnknownWorkflowError(WorkflowError, LookupError):
    """A workflow name that no loaded file defines."""
