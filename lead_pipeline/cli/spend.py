"""What ``enrich`` shows and asks before it spends: the plan, and a question above a threshold.

A run that could cost more than ``LEAD_PIPELINE_CONFIRM_ABOVE_USD`` (default $1,
so a new user's first run on a real list cannot surprise them) shows its plan and
asks; ``--yes`` skips the question for scripts; without a terminal to ask on and
without ``--yes``, the run is refused. ``--max-cost`` is exactly what the run can
spend at most (every paid call reserves its most against it first, in one ledger
for the whole run: ``providers/budget.py``), so a cap under the threshold needs no
question. Schedules and sensors never come here: they are bounded by ``max_cost``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from lead_pipeline.cli.common import CliError, console
from lead_pipeline.engine.options import RunRequest
from lead_pipeline.engine.plan import (
    CONFIRM_ENV,
    RunPlan,
    confirm_above_usd,
    may_cost,
    plan_run,
    render_plan,
)
from lead_pipeline.settings import get_settings
from lead_pipeline.store import LeadStore


def make_plan(
    args: argparse.Namespace,
    options: dict[str, Any],
    store: LeadStore,
    *,
    only_if_paid: bool = False,
) -> RunPlan | None:
    """The plan of the run ``enrich`` was asked for, from the same options and workflows.

    ``only_if_paid``: None, without reading the list, when no node of those workflows
    may call a provider: a run that cannot cost anything has nothing to price or ask.
    """
    # Imported when a plan is made: the launcher costs 1.4 s of CPU beyond what ``--help``
    # and this module load, the loader 0.16 s; registry() loads every node type.
    from lead_pipeline.engine.planning import plan_workflows
    from lead_pipeline.engine.registry import registry
    from lead_pipeline.launching.launch import run_config
    from lead_pipeline.workflows.loader import load_workflows

    every = load_workflows(node_types=registry(), set_aside_broken=True).usable_for(
        args.workflow
    )  # a broken file is left out, with a warning
    config = run_config(options)["resources"]["enrich"]["config"]
    enrich_options = RunRequest(**config)
    enrich_options.check_params(name for w in every for name in w.spec.params)
    workflows, skipped = plan_workflows(args.workflow, every)
    if only_if_paid and not may_cost(
        workflows, enrich_options.for_workflow, settings=get_settings()
    ):
        return None
    return plan_run(
        store,
        args.lead,
        workflows,
        enrich_options.for_workflow,
        settings=get_settings(),
        skipped=skipped,
    )


def show(plan: RunPlan) -> None:
    for line in _lines(plan):
        console.print(line, highlight=False, markup=False, soft_wrap=True)


def _lines(plan: RunPlan) -> list[str]:

    return render_plan(plan)


def confirm(plan: RunPlan, *, yes: bool, max_cost: float | None) -> None:
    """Return when the run may go ahead; raise :class:`CliError` when it must not."""
    threshold = confirm_above_usd()
    at_most = plan.cost_max if max_cost is None else min(plan.cost_max, max_cost)
    if yes or at_most <= threshold:
        return
    show(plan)
    question = f"This run may cost up to ${at_most:.2f}, above {CONFIRM_ENV} (${threshold:.2f})."
    if not sys.stdin.isatty():
        raise CliError(
            f"{question} Not started: there is no terminal to ask on. Pass --yes to run it, "
            "--max-cost to cap it, or raise the threshold"
        )
    answer = console.input(f"{question} Run it? [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        raise CliError("not started: the run was declined; nothing was called or spent")
