"""Group commit: the node results of every row in flight share one transaction.

A node's result must be durable before that row's next node starts, but it
need not have a transaction of its own. With a hundred rows in flight, one
commit per result means a hundred commits (each an fsync on SQLite, a round
trip on PostgreSQL) for what one transaction can hold.

:class:`GroupCommitter` keeps a queue of results. While no commit is running,
the first result to arrive starts one at once (an idle shard adds no latency);
results arriving while it runs wait in the queue and all go into the next
commit. Each caller awaits the commit that holds its own result, so the
durability promise is unchanged: when ``await committer.record(result)``
returns, the result is committed. A result the database refuses fails only
its own caller: a refused batch is committed again one result at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence

from lead_pipeline.store.records import NodeResult

log = logging.getLogger(__name__)

# A transaction bigger than this is split: a very large batch would hold the
# SQLite write lock long enough to stall the other shard processes.
MAX_BATCH = 2_000

WriteFn = Callable[[Sequence[NodeResult]], None]


class CommitterClosedError(RuntimeError):
    """A result handed to a committer that has already stopped."""


class GroupCommitter:
    """Batches ``record`` calls from many coroutines into shared transactions.

    ``write`` is a blocking function that commits a batch in one transaction
    (``LeadStore.record_results``); it runs in a worker thread so the event
    loop never waits on the database.
    """

    def __init__(self, write: WriteFn, *, max_batch: int = MAX_BATCH) -> None:
        self._write = write
        self._max_batch = max_batch
        self._pending: list[tuple[NodeResult, asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._closed = False
        self._task: asyncio.Task[None] | None = None
        self.commits = 0
        self.results = 0

    async def record(self, result: NodeResult) -> None:
        """Return once ``result`` is committed; raise what the database raised for it."""
        if self._closed:
            raise CommitterClosedError("the committer has stopped; the result was not saved")
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="group-commit")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((result, future))
        self._wake.set()
        await future

    async def close(self) -> None:
        """Commit what is queued, then stop; later ``record`` calls are refused."""
        self._closed = True
        self._wake.set()
        if self._task is not None:
            await self._task

    async def _loop(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._pending:
                    batch = self._pending[: self._max_batch]
                    del self._pending[: len(batch)]
                    await self._commit(batch)
                if self._closed:
                    return
        finally:
            # Cancelled (the shard is being torn down): no caller may wait forever.
            self._closed = True
            for _, future in self._pending:
                _resolve(future, CommitterClosedError("the committer stopped before this commit"))
            self._pending.clear()

    async def _commit(self, batch: list[tuple[NodeResult, asyncio.Future[None]]]) -> None:
        try:
            await asyncio.to_thread(self._write, [result for result, _ in batch])
        except Exception as exc:
            if len(batch) == 1:
                _resolve(batch[0][1], exc)
                return
            # One bad result must not fail the rows that happened to share its commit.
            log.warning(
                "a group commit of %d results failed (%s); committing them one by one",
                len(batch),
                type(exc).__name__,
            )
            for item in batch:
                await self._commit([item])
            return
        self.commits += 1
        self.results += len(batch)
        for _, future in batch:
            _resolve(future, None)


def _resolve(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():  # its caller was cancelled; nobody is waiting
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


@contextlib.asynccontextmanager
async def group_commit(write: WriteFn) -> AsyncIterator[GroupCommitter]:
    """A committer that has committed everything queued when the block exits."""
    committer = GroupCommitter(write)
    try:
        yield committer
    finally:
        await committer.close()
