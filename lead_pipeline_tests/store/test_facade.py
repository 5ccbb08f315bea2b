"""The store's façade: every part shares its engine, and each part's methods answer on it."""

from __future__ import annotations

import inspect

from lead_pipeline.store import LeadStore
from lead_pipeline.store.shared import StorePart


def _parts(store: LeadStore) -> dict[str, StorePart]:
    return {name: part for name, part in vars(store).items() if isinstance(part, StorePart)}


def test_every_part_uses_the_one_engine(store: LeadStore) -> None:
    parts = _parts(store)
    assert len(parts) >= 7
    for name, part in parts.items():
        assert part.engine is store.engine, name
        for attribute, value in vars(part).items():
            if isinstance(value, StorePart):  # a part it reads through (lists)
                assert value is parts["lead_lists"], (name, attribute)


def test_each_public_method_of_a_part_answers_on_the_store(store: LeadStore) -> None:
    exposed: dict[str, str] = {}
    for name, part in _parts(store).items():
        for method, _ in inspect.getmembers(type(part), inspect.isfunction):
            if method.startswith("_"):
                continue
            assert method not in exposed, f"{method} is on both {exposed[method]} and {name}"
            exposed[method] = name
            answered = getattr(store, method)
            assert answered.__self__ is part, method
            assert answered.__func__ is getattr(type(part), method), method


def test_the_facade_calls_reach_the_part(store: LeadStore) -> None:
    store.import_rows("acme", [("a.com", {"name": "A"})])
    store.cache_put("k", "serper", {"answer": 1})

    assert [r.row_id for r in store.lead_lists.rows("acme")] == ["a.com"]
    assert store.response_cache.cache_get("k") == {"answer": 1}
    assert store.wide_frame("acme")["name"].tolist() == ["A"]
