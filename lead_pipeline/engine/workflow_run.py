"""One workflow's run on one lead list, from its first check to its closing summary.

What a run means lives here, not in the Dagster ops that drive it: a run is
checked (parameters, keys, the list), takes the list's run lock, selects its
rows and opens its run record, is cut into shards, runs each shard under the
lock, and is closed (counts from the store, the failure policy, pruning, the
record's end). ``defs/assets.py`` calls these methods from its three steps and
turns :class:`RunRefused` into a step failure; ``lead-pipeline enrich`` asks
:meth:`WorkflowRun.nothing_to_do` before it launches anything. A script or a
test can drive a whole run without Dagster.

The steps of one run may run in different processes: :class:`Selection` is what
the select step hands on (its rows, its run record id and start time), and a
:class:`WorkflowRun` built anywhere from the same store, workflow, list and
options carries the run on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from lead_pipeline.engine.compile import CompiledWorkflow
from lead_pipeline.engine.options import RunOptions, RunRequest
from lead_pipeline.engine.registry import NotConfigured
from lead_pipeline.engine.runlock import (
    STALE_ENV,
    LockKeeper,
    LockLost,
    current_launcher,
    holder_is_gone,
    stale_after_s,
    watch_launcher,
)
from lead_pipeline.engine.selection import Selection, Shard, make_shards, select_rows
from lead_pipeline.engine.summary import RunSummary, ShardSummary, describe_failures
from lead_pipeline.settings import Settings, get_settings
from lead_pipeline.store import LeadStore, UnknownLeadListError
from lead_pipeline.workflows.errors import WorkflowError

if TYPE_CHECKING:
    from lead_pipeline.engine.plan import WorkflowPlan

# A run in which more than this share of the processed rows failed fails (the UI shows it
# red, downstream workflows do not run); below it, the failure_rate check judges the list.
RUN_FAILS_ABOVE = 0.5
# How long the values passed between a run's steps are kept (for re-execution from the UI).
STEP_OUTPUT_RETENTION = timedelta(days=7)
# How long a run's money ledger (``run_ledgers``) is kept after it opened. Every shard of
# the run reserves against it, and a shard starting after it was pruned would open a new
# one with the whole cap again: so far longer than any run lasts (a run that makes no
# progress for LEAD_PIPELINE_RUN_STALL_TIMEOUT is stopped), never while a run might go on.
LEDGER_RETENTION = timedelta(days=30)

_log = logging.getLogger(__name__)


class RunLog(Protocol):
    """Where a run says what it does: a ``logging.Logger``, or Dagster's ``context.log``."""

    def info(self, msg: str) -> object: ...

    def warning(self, msg: str) -> object: ...


class RunRefused(Exception):
    """The run cannot start or go on, for a reason that retrying would not change.

    Its text is the whole message for the user; nothing was written that the
    refusal would leave half done.
    """


class UnknownList(RunRefused):
    """The lead list does not exist (a Dagster partition added by hand, a typo)."""


class RowsFailed(RunRefused):
    """More than :data:`RUN_FAILS_ABOVE` of the processed rows failed: the run is closed
    as failed, and every row's result and error stays in the store."""

    def __init__(self, summary: RunSummary, causes: str) -> None:
        self.summary = summary
        self.causes = causes
        headline = (
            f"{summary.failed} of {summary.processed} processed rows failed "
            f"({summary.failure_rate:.0%}; a run fails above {RUN_FAILS_ABOVE:.0%}). See them "
            f"all with: lead-pipeline errors --lead {summary.lead_list} --workflow "
            f"{summary.workflow}"
        )
        super().__init__(f"{headline}\n{causes}")


def run_options(
    request: RunRequest, workflow: CompiledWorkflow, known_params: Iterable[str]
) -> RunOptions:
    """The options ``workflow`` runs with, from what the run was asked for.

    ``known_params``: every parameter any workflow of the run may declare; a
    name none declares is a typo, refused before any row is touched.
    """
    try:
        request.check_params(known_params)
        options = request.for_workflow(workflow)
        workflow.params(options.params)  # of the right type: llm_threshold=abc is refused
    except WorkflowError as exc:
        raise RunRefused(str(exc)) from None
    return options


@dataclass
class PlanOnly:
    """A ``plan_only`` run's answer: the plan and its lines, and the selection it hands on
    (no row to run)."""

    plan: WorkflowPlan
    lines: list[str]
    selection: Selection


@dataclass
class WorkflowRun:
    """``owner`` names the run in the list's run lock (the Dagster run id).

    ``owner_ended`` says whether another owner's run is known to be over, so
    its lock is free at once (Dagster knows which of its runs ended); without
    it, a lock frees only when its heartbeat goes stale or its launcher died.
    """

    store: LeadStore
    workflow: CompiledWorkflow
    lead_list: str
    options: RunOptions
    owner: str = "local"
    owner_ended: Callable[[str], bool] = field(default=lambda _owner: False)
    log: RunLog = field(default=_log)
    settings: Settings | None = None

    @property
    def name(self) -> str:
        return self.workflow.name

    def _settings(self) -> Settings:
        return self.settings or get_settings()

    # ------------------------------------------------------------------ before any write

    def check(self) -> None:
        """Refuse a run that cannot start: a node without its key, a list that does not exist."""
        try:
            self.workflow.preflight()
        except NotConfigured as exc:
            raise RunRefused(f"workflow {self.name!r} cannot run: {exc}") from None
        try:
            self.store.require_list(self.lead_list)
        except UnknownLeadListError as exc:
            raise UnknownList(str(exc)) from None

    def plan(self) -> PlanOnly:
        """What the run would process, call and cost; writes nothing, hands on no row."""
        # Imported here, as the row runner is in run_shard: see there.
        from lead_pipeline.engine.plan import RunPlan, plan_workflow, render_plan

        plan = plan_workflow(
            self.store, self.workflow, self.lead_list, self.options, settings=self._settings()
        )
        lines = render_plan(
            RunPlan(lead_list=self.lead_list, parallel=self.options.parallel, workflows=[plan])
        )
        selection = Selection(
            lead_list=self.lead_list,
            workflow=self.name,
            up_to_date=plan.up_to_date,
            not_eligible=plan.not_eligible,
            total_rows=plan.total_rows,
            started_at=time.time(),
        )
        return PlanOnly(plan=plan, lines=lines, selection=selection)

    def nothing_to_do(self) -> Selection | None:
        """The selection when the run would neither process a row nor write a record; None
        when it has work, or when only the run can tell (a column the list lacks: the
        select step reports it).

        Decided without writing anything and without the lock, so ``enrich`` can skip
        launching a run at all.
        """
        wanted = self.options
        # A row with no result of the workflow is work (or a skipped record to write
        # outside ``where``): no need to select every row to know a run has work.
        if self.batches_to_collect():
            return None
        unresulted = not wanted.retry_failed and wanted.limit != 0
        if unresulted and self.store.has_row_without_results(self.lead_list, self.name):
            return None
        try:
            selection = select_rows(self.store, self.workflow, self.lead_list, wanted, record=False)
        except WorkflowError:
            return None
        return selection if selection.nothing_to_do else None

    # ------------------------------------------------------------------ LLM batches

    def batches_to_collect(self) -> bool:
        """Whether a batch of this workflow on this list has ended (or was left between
        record and create by a dead process): a run has work collecting it."""
        from lead_pipeline.engine.batch_lane import ended_batches  # see run_shard

        try:
            return ended_batches(self.store, self.name, self.lead_list, self._settings())
        except Exception as exc:  # a provider down must not stop the rest of the run
            self.log.warning(f"could not poll the LLM batches of {self.name}: {exc}")
            return False

    def collect_batches(self) -> set[str]:
        """Save the answers of this workflow's ended batches as their rows' results, so the
        selection takes those rows on from their next node. A provider that cannot be read
        leaves its rows waiting, and the run goes on."""
        from lead_pipeline.engine.batch_lane import collect  # see run_shard

        if not self.store.batches(self.lead_list, uncollected=True, workflow=self.name):
            return set()
        try:
            done = collect(self.store, self.workflow, self.lead_list, self._settings())
        except Exception as exc:
            self.log.warning(f"could not collect the LLM batches of {self.name}: {exc}")
            return set()
        if done.batches:
            self.log.info(
                f"{self.name} on {self.lead_list}: collected {done.batches} LLM batch(es): "
                f"{done.ok} answers saved, {done.failed} failed"
            )
        if done.still_open:
            self.log.info(
                f"{self.name} on {self.lead_list}: {len(done.still_open)} LLM batch(es) still open"
            )
        return done.failed_rows

    # ------------------------------------------------------------------ the run lock

    def lock(self) -> float:
        """Hold the run lock of this workflow on this list, or refuse the run.

        Returns the stale threshold in force. Called when rows are selected and
        again by each shard (a no-op refresh for the same owner; a re-executed
        run's shards take the lock under their own owner).
        """
        stale = stale_after_s()
        watch_launcher()  # this process ends itself if the command that launched it dies
        launcher = current_launcher()
        holder = launcher.text() if launcher else None
        # A dead command's lock is free at once, not after the stale threshold.
        attempt = self.store.acquire_run_lock(
            self.lead_list, self.name, self.owner, stale, holder=holder, holder_gone=holder_is_gone
        )
        if not attempt.acquired and self.owner_ended(attempt.holder.owner):
            attempt = self.store.acquire_run_lock(
                self.lead_list,
                self.name,
                self.owner,
                stale,
                take_from=attempt.holder.owner,
                holder=holder,
                holder_gone=holder_is_gone,
            )
        if not attempt.acquired:
            held = attempt.holder
            raise RunRefused(
                f"workflow {self.name!r} on list {self.lead_list!r} is already running in run "
                f"{held.owner} since {held.acquired_at:%Y-%m-%d %H:%M:%S} UTC "
                f"(last heartbeat {held.heartbeat_at:%H:%M:%S}); wait for it to finish. "
                f"If its processes died, the lock is taken over once it has had no heartbeat "
                f"for {stale:.0f}s ({STALE_ENV}), or at once when that run is marked "
                "canceled in the Dagster UI"
            )
        if attempt.replaced is not None:
            self.log.warning(
                f"took over the run lock of {self.name} on {self.lead_list} from run "
                f"{attempt.replaced.owner} (last heartbeat "
                f"{attempt.replaced.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC), which ended or died"
            )
        return stale

    def release(self) -> None:
        self.store.release_run_lock(self.lead_list, self.name, self.owner)

    # ------------------------------------------------------------------ the run

    def select(self, *, dagster_run_id: str | None = None) -> Selection:
        """Take the lock, choose the rows, open the run record.

        The lock comes before anything is written: a refused run leaves the
        store as it found it. A selection that fails frees the lock again.
        """
        self.lock()
        try:
            failed_in_batch = self.collect_batches()
            selection = select_rows(self.store, self.workflow, self.lead_list, self.options)
            if failed_in_batch:  # failed by their batch just now: the next run asks again
                selection.work = [w for w in selection.work if w.row_id not in failed_in_batch]
                selection.failed_in_batch = len(failed_in_batch)
        except (UnknownLeadListError, WorkflowError) as exc:
            self.release()
            raise RunRefused(str(exc)) from None
        except BaseException:
            self.release()
            raise
        # "selected" lets the CLI's progress bar know this run's total.
        selection.store_run_id = self.store.start_run(
            self.lead_list,
            self.name,
            {**self.options.as_dict(), "selected": len(selection.work)},
            dagster_run_id=dagster_run_id,
        )
        selection.started_at = time.time()
        return selection

    def shards(self, selection: Selection) -> list[Shard]:
        """The selection's rows cut into the shards that run them (``make_shards``)."""
        shards = make_shards(
            selection, self.options, inline=self.workflow.runs_inline(self._settings())
        )
        self.log.info(
            f"{self.name} on {self.lead_list}: {len(selection.work)} rows to process in "
            f"{len(shards)} shard(s), {selection.up_to_date} up to date, "
            f"{selection.not_eligible} outside where"
        )
        return shards

    def run_shard(self, shard: Shard) -> ShardSummary:
        """Run one shard's rows under the run lock, heartbeating it; a lock taken over by
        another run stops the shard starting rows and refuses the rest of the run."""
        # Imported here, as the plan and the cache are where they are used: the row runner
        # loads every provider client (httpx and the rest), the plan the price tables. Loaded
        # with this module they cost ``enrich`` 0.14 s of CPU (0.59 s -> 0.73 s to import
        # launching.launch) before it finds it has nothing to do.
        from lead_pipeline.engine.runner import run_shard

        stale = self.lock()
        keeper = LockKeeper(self.store, shard.lead_list, self.name, self.owner, stale)
        try:
            summary = run_shard(
                self.store,
                self.workflow,
                shard,
                self.options,
                settings=self._settings(),
                lock=keeper,
                # The Dagster run's cost cap is one ledger for all its workflows and shards;
                # a run driven without Dagster ("local") splits its cap across its shards.
                run_key=None if self.owner == "local" else self.owner,
            )
        except LockLost as exc:
            raise RunRefused(str(exc)) from None
        self.log.info(
            f"shard {shard.index + 1}/{shard.count}: {summary.ok} ok, {summary.failed} failed "
            f"in {summary.duration_s:.1f}s"
        )
        return summary

    def close(self, selection: Selection, shards: Iterable[ShardSummary]) -> RunSummary:
        """Count the run from the store, prune, close its record, free the lock.

        Raises :class:`RowsFailed` (the record closed as failed) when more than
        :data:`RUN_FAILS_ABOVE` of the processed rows failed.
        """
        summary = self.summarize(selection, shards)
        self.prune()
        try:
            failed = summary.failed and summary.failure_rate > RUN_FAILS_ABOVE
            self._finish(summary, "failed" if failed else "succeeded")
            if failed:
                raise RowsFailed(summary, self.causes(summary))
        finally:
            self.release()
        return summary

    def summarize(self, selection: Selection, shards: Iterable[ShardSummary]) -> RunSummary:
        """The run's counts: the shards', then the store's for this run record (what
        ``status``, exports and the progress bar read), with failures grouped by cause."""
        summary = RunSummary(
            lead_list=selection.lead_list,
            workflow=self.name,
            selected=selection.selected,
            up_to_date=selection.up_to_date,
            not_eligible=selection.not_eligible,
            held_back=selection.held_back,
            waiting_on_batch=selection.waiting_on_batch,
            failed_in_batch=selection.failed_in_batch,
            left_alone=selection.left_alone,
            total_rows=selection.total_rows,
            store_run_id=selection.store_run_id,
        ).merge(shards)
        if selection.store_run_id is not None:
            nodes = [n.id for n in self.workflow.nodes]
            counts = self.store.run_counts(selection.store_run_id, nodes)
            summary.count_from_store(counts.ok, counts.failed, counts.skipped)
            summary.unsupported = counts.unsupported
            summary.with_causes(
                self.store.failures(selection.lead_list, run_id=selection.store_run_id)
            )
        summary.duration_s = time.time() - selection.started_at
        self.log.info(summary.line())
        causes = self.causes(summary)
        if causes:
            self.log.warning(f"rows failed, by cause:\n{causes}")
        return summary

    @staticmethod
    def causes(summary: RunSummary) -> str:
        return describe_failures(summary.causes, summary.other_causes, summary.other_cause_rows)

    def prune(self) -> None:
        """Drop what no longer serves: step values past their retention (they only serve
        re-executing recent runs), the money ledgers of runs long over, and expired cached
        answers (they are misses anyway)."""
        from lead_pipeline.providers.cache import CacheLifetimes  # see run_shard

        now = datetime.now(UTC)
        self.store.prune_step_outputs(now - STEP_OUTPUT_RETENTION)
        self.store.prune_ledgers(now - LEDGER_RETENTION)
        lifetimes = CacheLifetimes.from_setting(self._settings().cache_ttl)
        self.store.prune_cache(lifetimes.default, lifetimes.providers)

    def _finish(self, summary: RunSummary, status: str) -> None:
        if summary.store_run_id is None:
            return
        self.store.finish_run(
            summary.store_run_id,
            status=status,
            ok=summary.ok,
            failed=summary.failed,
            skipped=summary.skipped,
            cost=summary.cost,
            message="\n".join([summary.line(), *summary.batch_lines()]),
        )
