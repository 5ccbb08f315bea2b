"""Worker bodies for the concurrency tests.

They live in their own module without pytest so spawned processes import only
what a real step process would: the store.
"""

from __future__ import annotations

import traceback
from typing import Any

from lead_pipeline.store import OK, LeadStore, NodeResult

LEAD_LIST = "busy"
SHARED_ROW = "row-0"


def node_result(worker: int, row: int, *, node: str | None = None) -> NodeResult:
    return NodeResult(
        lead_list=LEAD_LIST,
        row_id=f"row-{row}",
        workflow="wf",
        node=node or f"w{worker}",
        node_index=0,
        status=OK,
        config_hash="c" * 64,
        outputs={"worker": worker, "row": row},
        cost=0.001,
    )


def write_results(store: LeadStore, worker: int, rows: int, shared_writes: int) -> None:
    """One result per row under this worker's node, plus writes to a key every worker hits.

    The shared key counts attempts with ``attempts + 1`` in the upsert, so a lost
    update between writers shows as a lower final count.
    """
    for row in range(rows):
        store.record_result(node_result(worker, row))
        if row < shared_writes:
            store.record_result(node_result(worker, 0, node="shared"))


def process_main(
    url: str, worker: int, rows: int, shared_writes: int, barrier: Any, out: Any
) -> None:
    try:
        store = LeadStore(url, upgrade=False)
        barrier.wait(timeout=120)  # every process starts writing at the same moment
        write_results(store, worker, rows, shared_writes)
        store.dispose()
        out.put((worker, None))
    except BaseException:
        out.put((worker, traceback.format_exc()))


def open_store_main(url: str, barrier: Any, out: Any) -> None:
    """Open (and so migrate) the store at the same moment as other processes."""
    try:
        barrier.wait(timeout=120)
        store = LeadStore(url)
        store.dispose()
        out.put(None)
    except BaseException:
        out.put(traceback.format_exc())
