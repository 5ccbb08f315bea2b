"""Group commit: many rows' results share a transaction, and none is acknowledged early.

What must hold, on both backends: when ``record`` returns, the result is in the
database (a second connection sees it); results arriving together share a
commit; a result the database refuses fails only its own caller; closing
commits what is queued; no caller is left waiting when the database is down.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from sqlalchemy.exc import OperationalError

from lead_pipeline.store import OK, LeadStore, NodeResult
from lead_pipeline.store.committer import CommitterClosedError, GroupCommitter, group_commit
from lead_pipeline.store.shared import utcnow

LEAD = "committer"
ROWS = 200


def _result(row: int, node: str = "n1", **outputs: object) -> NodeResult:
    now = utcnow()
    return NodeResult(
        lead_list=LEAD,
        row_id=f"row-{row}",
        workflow="wf",
        node=node,
        node_index=0,
        status=OK,
        config_hash="h",
        outputs={"row": row, **outputs},
        started_at=now,
        finished_at=now,
        duration_s=0.0,
    )


@pytest.fixture
def listed(store: LeadStore) -> LeadStore:
    store.import_rows(LEAD, [(f"row-{i}", {"name": f"Company {i}"}) for i in range(ROWS)])
    return store


def _saved(url: str) -> dict[str, dict]:
    """What a separate connection (another process, a crash survivor) would read."""
    other = LeadStore(url, upgrade=False)
    try:
        return {row: by_key[("wf", "n1")].outputs for row, by_key in other.results(LEAD).items()}
    finally:
        other.dispose()


def test_each_result_is_committed_before_its_caller_resumes(listed: LeadStore) -> None:
    seen_after_return: dict[str, bool] = {}

    async def row(committer: GroupCommitter, i: int) -> None:
        # Stagger arrivals so that later rows land while earlier commits run.
        await asyncio.sleep((i % 7) * 0.001)
        await committer.record(_result(i))
        # Blocking the loop on purpose: no further commit can sneak in before the check.
        seen_after_return[f"row-{i}"] = f"row-{i}" in _saved(listed.url)

    async def main() -> GroupCommitter:
        async with group_commit(listed.record_results) as committer:
            await asyncio.gather(*(row(committer, i) for i in range(ROWS)))
        return committer

    committer = asyncio.run(main())
    assert seen_after_return == {f"row-{i}": True for i in range(ROWS)}
    assert committer.results == ROWS
    # Shared transactions really happen: far fewer commits than results.
    assert committer.commits < ROWS / 4, committer.commits
    assert _saved(listed.url) == {f"row-{i}": {"row": i} for i in range(ROWS)}


def test_a_refused_result_fails_only_its_own_caller(listed: LeadStore) -> None:
    bad = 17  # a value JSON cannot hold: the database driver refuses the whole batch

    async def main() -> list[BaseException | None]:
        async with group_commit(listed.record_results) as committer:
            results = await asyncio.gather(
                *(
                    committer.record(_result(i, bad=object()) if i == bad else _result(i))
                    for i in range(50)
                ),
                return_exceptions=True,
            )
        return list(results)

    outcomes = asyncio.run(main())
    failed = [i for i, outcome in enumerate(outcomes) if outcome is not None]
    assert failed == [bad]
    saved = _saved(listed.url)
    assert set(saved) == {f"row-{i}" for i in range(50) if i != bad}


def test_closing_commits_the_queue_and_refuses_later_results(listed: LeadStore) -> None:
    async def main() -> None:
        committer = GroupCommitter(listed.record_results)
        pending = [asyncio.create_task(committer.record(_result(i))) for i in range(30)]
        await asyncio.sleep(0)  # queued, not yet committed
        await committer.close()
        assert all(task.done() and task.exception() is None for task in pending)
        with pytest.raises(CommitterClosedError):
            await committer.record(_result(99))

    asyncio.run(main())
    assert set(_saved(listed.url)) == {f"row-{i}" for i in range(30)}


def test_every_caller_hears_of_a_database_that_is_down() -> None:
    calls: list[int] = []

    def down(batch: Sequence[NodeResult]) -> None:
        calls.append(len(batch))
        raise OperationalError("INSERT", {}, Exception("connection refused"))

    async def main() -> list[BaseException | None]:
        async with group_commit(down) as committer:
            return list(
                await asyncio.wait_for(
                    asyncio.gather(
                        *(committer.record(_result(i)) for i in range(20)),
                        return_exceptions=True,
                    ),
                    timeout=60,
                )
            )

    outcomes = asyncio.run(main())
    assert all(isinstance(o, OperationalError) for o in outcomes), outcomes
    # One shared attempt, then one attempt per result, so each caller gets its own answer.
    assert calls[0] == 20 and calls[1:] == [1] * 20
