"""The engine: a workflow run from selection to summary, without Dagster.

The names below are the engine's face for the layers above it (``defs/``,
``launching/``, ``cli/``, scripts): :class:`WorkflowRun` runs one workflow on
one lead list, the rest are what it takes and hands back.

Type checkers read them from the imports as written; at run time each loads on
first use (``lead_pipeline/lazy.py``): ``lead-pipeline --help`` imports
``engine.options`` for its flags, and an eager ``__init__`` would load the row
runner and every provider client with it. ``lead_pipeline_tests/test_lazy_packages.py``
checks that ``__all__``, these imports and the lazy table name the same things.
"""

from typing import TYPE_CHECKING

from lead_pipeline.lazy import lazy_exports

if TYPE_CHECKING:
    from lead_pipeline.engine.compile import CompiledNode, CompiledWorkflow
    from lead_pipeline.engine.counts import LeftAlone, Outcomes
    from lead_pipeline.engine.options import RunOptions, RunRequest
    from lead_pipeline.engine.plan import RunPlan, WorkflowPlan
    from lead_pipeline.engine.selection import Selection, Shard
    from lead_pipeline.engine.summary import RunSummary, ShardSummary
    from lead_pipeline.engine.workflow_run import (
        RUN_FAILS_ABOVE,
        PlanOnly,
        RowsFailed,
        RunRefused,
        UnknownList,
        WorkflowRun,
        run_options,
    )

__all__ = [
    "RUN_FAILS_ABOVE",
    "CompiledNode",
    "CompiledWorkflow",
    "LeftAlone",
    "Outcomes",
    "PlanOnly",
    "RowsFailed",
    "RunOptions",
    "RunPlan",
    "RunRefused",
    "RunRequest",
    "RunSummary",
    "Selection",
    "Shard",
    "ShardSummary",
    "UnknownList",
    "WorkflowPlan",
    "WorkflowRun",
    "run_options",
]

_, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "compile": ("CompiledNode", "CompiledWorkflow"),
        "counts": ("LeftAlone", "Outcomes"),
        "options": ("RunOptions", "RunRequest"),
        "plan": ("RunPlan", "WorkflowPlan"),
        "selection": ("Selection", "Shard"),
        "summary": ("RunSummary", "ShardSummary"),
        "workflow_run": (
            "RUN_FAILS_ABOVE",
            "PlanOnly",
            "RowsFailed",
            "RunRefused",
            "UnknownList",
            "WorkflowRun",
            "run_options",
        ),
    },
)
