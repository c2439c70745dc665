"""The garbage collector's schedule in the worker and the collector (tracker/heap.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from tracker.heap import YOUNG_GENERATION_ALLOCATIONS, settle_heap


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_gc")
def test_what_start_up_made_is_frozen_and_young_objects_are_passed_over_less_often() -> None:
    gc.unfreeze()
    made_at_start = [[n] for n in range(1000)]  # lists are tracked by the collector
    settle_heap()
    walked = {id(o) for o in gc.get_objects()}  # what a pass may walk; frozen ones are not
    assert not any(id(row) in walked for row in made_at_start)
    assert gc.get_threshold()[0] == YOUNG_GENERATION_ALLOCATIONS
    assert gc.isenabled()


@pytest.mark.usefixtures("restored_gc")
def test_the_collector_still_runs_by_itself_once_enough_containers_were_allocated() -> None:
    settle_heap()
    passes: list[int] = []

    def seen(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            passes.append(info["generation"])

    gc.callbacks.append(seen)
    try:
        kept = [[n] for n in range(YOUNG_GENERATION_ALLOCATIONS // 2)]
        assert passes == [], "not every 700 allocations any more"
        kept += [[n] for n in range(YOUNG_GENERATION_ALLOCATIONS)]
        assert passes, "but still by itself"
    finally:
        gc.callbacks.remove(seen)
    assert len(kept) > YOUNG_GENERATION_ALLOCATIONS
