"""Python's allocations by site under tracemalloc (stream.traced_memory, ``?traced=1``)."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from tracker.stream.traced_memory import TracedSites, changes

HERE = __file__


@pytest.fixture
def tracing() -> Iterator[None]:
    was = tracemalloc.is_tracing()
    if was and tracemalloc.get_traceback_limit() != 2:
        pytest.skip("the interpreter already traces, with another number of frames")
    if not was:
        tracemalloc.start(2)
    yield
    if not was:
        tracemalloc.stop()


def allocate(blocks: int) -> list[bytearray]:
    kept = []
    for _ in range(blocks):
        kept.append(bytearray(4096))  # each its own block, ~4 KiB
    return kept


def line_of(text: str) -> int:
    return next(n for n, line in enumerate(Path(HERE).read_text().splitlines(), 1) if text in line)


def ours(entries: list[dict[str, object]]) -> list[dict[str, object]]:
    return [e for e in entries if str(e["where"][0]).startswith(HERE)]  # type: ignore[index]


def test_without_tracing_there_is_no_answer() -> None:
    if tracemalloc.is_tracing():
        pytest.skip("the interpreter already traces (PYTHONTRACEMALLOC)")
    assert TracedSites().answer() is None


@pytest.mark.usefixtures("tracing")
def test_the_growth_between_two_answers_is_booked_to_the_line_that_allocated_it() -> None:
    sites = TracedSites(top=10)
    first = sites.answer()
    assert first is not None and "changed" not in first  # nothing to compare with yet
    kept = allocate(500)
    second = sites.answer()
    assert second is not None
    grown = ours(second["changed"])
    assert grown, second["changed"]
    assert grown[0]["bytes"] >= 500 * 4096
    assert grown[0]["blocks"] >= 500
    # The frames the tracing keeps (2), innermost first.
    assert grown[0]["where"] == [
        f"{HERE}:{line_of('kept.append(bytearray(4096))')}",
        f"{HERE}:{line_of('kept = allocate(500)')}",
    ]
    # The total moved by the same allocations, not by the sites this holds between answers.
    assert 500 * 4096 <= second["change_bytes"] < 500 * 4096 + 256 * 1024
    assert ours(second["sites"])[0]["bytes"] >= 500 * 4096  # among the largest sites too
    del kept
    third = sites.answer()
    assert third is not None
    freed = ours(third["changed"])
    assert freed and freed[0]["bytes"] <= -500 * 4096  # freed memory shows as a fall


def test_changes_rank_sites_by_how_far_they_moved_either_way() -> None:
    before = {("a:1",): (100, 1), ("b:2",): (5_000, 10), ("c:3",): (7, 1)}
    after = {("a:1",): (9_100, 4), ("b:2",): (1_000, 2), ("c:3",): (7, 1), ("d:4",): (50, 1)}
    moved = changes(before, after, top=3)
    assert [(m["where"], m["bytes"], m["blocks"]) for m in moved] == [
        (["a:1"], 9_000, 3),
        (["b:2"], -4_000, -8),
        (["d:4"], 50, 1),
    ]  # c did not move; the top three only
