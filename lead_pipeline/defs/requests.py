"""Run requests for the chain, shared by the lead-file sensor and the daily schedule.

Automation must not launch a run that is bound to fail: a workflow whose
provider has no key here (``founder_linkedin`` without a search key) is left
out of the run, with everything that needs it, exactly as ``lead-pipeline
enrich --workflow all`` does; the run's tags say what was left out and why.
"""

from collections.abc import Sequence

import dagster as dg

from lead_pipeline.defs.checks import CHECK_NAMES
from lead_pipeline.engine.compile import CompiledWorkflow
from lead_pipeline.engine.planning import plan_workflows

SOURCE_TAG = "lead_pipeline/source"
SKIPPED_TAG = "lead_pipeline/skipped"


def chain_request(
    lead_list: str,
    workflows: Sequence[CompiledWorkflow],
    *,
    source: str,
    run_key: str | None = None,
    run_config: dict | None = None,
) -> tuple[dg.RunRequest | None, dict[str, str]]:
    """The chain's run for one lead list, and the workflows left out with the reason.

    None when no workflow can run here at all.
    """
    runnable, skipped = plan_workflows("all", workflows)
    if not runnable:
        return None, skipped
    keys = [dg.AssetKey(w.name) for w in runnable]
    tags = {SOURCE_TAG: source}
    if skipped:
        tags[SKIPPED_TAG] = ", ".join(sorted(skipped))
    request = dg.RunRequest(
        run_key=run_key,
        run_config=run_config or {},
        partition_key=lead_list,
        asset_selection=keys,
        asset_check_keys=[dg.AssetCheckKey(key, name) for key in keys for name in CHECK_NAMES],
        tags=tags,
    )
    return request, skipped
