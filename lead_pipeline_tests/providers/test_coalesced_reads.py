"""Cache reads of rows in flight are gathered into one read, each row getting its own answer."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from lead_pipeline.providers.cache import CacheView, CoalescedReads
from lead_pipeline.store import LeadStore


async def test_rows_in_flight_share_one_read_and_get_their_own_answers() -> None:
    held = {f"k{i}": {"answer": i} for i in range(0, 200, 2)}
    reads: list[list[str]] = []

    def read(keys: list[str]) -> Mapping[str, Any]:
        reads.append(keys)
        return {k: held[k] for k in keys if k in held}

    coalesced = CoalescedReads(read)
    keys = [f"k{i}" for i in range(200)] + ["k4", "k5"]  # two rows asking the same twice
    got = await asyncio.gather(*(coalesced.get(k) for k in keys))
    assert got == [held.get(k) for k in keys]
    assert sum(len(r) for r in reads) == 200 and len(reads) < 10  # not one read per row
    # Later asks start a new read.
    assert await coalesced.get("k2") == {"answer": 2} and len(reads[-1]) == 1


async def test_a_failed_read_is_a_miss_for_every_row_waiting_on_it() -> None:
    def read(keys: list[str]) -> Mapping[str, Any]:
        raise RuntimeError("disk on fire")

    coalesced = CoalescedReads(read)
    assert await asyncio.gather(*(coalesced.get(f"k{i}") for i in range(5))) == [None] * 5


def test_the_store_reads_many_keys_with_their_lifetimes(store: LeadStore) -> None:
    for i in range(1_200):  # more than one query's worth of keys
        store.cache_put(f"k{i}", "openai" if i % 2 else "serper", {"n": i})
    view = CacheView(store)
    keys = [f"k{i}" for i in range(1_300)]
    assert view.cache_get_many(keys) == {f"k{i}": {"n": i} for i in range(1_200)}
    assert view.cache_get_many(keys) == {k: view.cache_get(k) for k in keys if view.cache_get(k)}
    assert CacheView(store, refresh=True).cache_get_many(keys) == {}
    later = CacheView(store, clock=lambda: datetime.now(UTC) + timedelta(days=31))
    assert later.cache_get_many(keys) == {}  # past the 30-day lifetime: misses
