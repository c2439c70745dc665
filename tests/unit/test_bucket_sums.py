"""Window sums read buckets by key or by bucket, whichever is fewer: the same total."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tracker.core.histogram import (
    MINUTES_DENSE_AT,
    BucketHistogram,
    Buckets,
    hour_buckets,
    minute_buckets,
)

# Keys near few hour boundaries, dicts both sparser and denser than a range: both ways.
buckets = st.dictionaries(st.integers(0, 180), st.integers(-5, 50).filter(bool), max_size=120)


@given(buckets, st.integers(-10, 190), st.integers(0, 130))
def test_a_range_sums_the_buckets_inside_it(minutes: dict[int, int], first: int, span: int) -> None:
    hist = BucketHistogram()
    for minute, n in minutes.items():
        hist.add_minute(minute, n)
        hist.add_hour(minute // 60, n)
    last_hour = (first + span) // 60
    hour = first // 60
    expected = sum(n for m, n in minutes.items() if first <= m < (hour + 1) * 60)
    expected += sum(n for m, n in minutes.items() if hour + 1 <= m // 60 <= last_hour)
    assert hist.since_minute(first, last_hour) == expected
    first_hour = first // 7
    day = first_hour // 24
    by_hour = sum(n for m, n in minutes.items() if first_hour <= m // 60 < (day + 1) * 24)
    by_hour += sum(n for m, n in minutes.items() if day + 1 <= m // 60 // 24 <= last_hour // 24)
    assert hist.since_hour(first_hour, last_hour) == by_hour


# Minutes across a few hours, some filling one; counts up to past 64 bits (revenue in
# millionths), and back.
steps = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(-70, 250), st.integers(-(2**70), 2**70)),
        st.tuples(st.just("add"), st.integers(-70, 250), st.integers(-3, 3)),
        st.tuples(st.just("fill"), st.integers(-70, 250), st.integers(1, 15)),  # n minutes
        st.tuples(st.just("drop"), st.integers(-80, 260), st.just(0)),
    ),
    max_size=80,
)


@pytest.mark.parametrize("made", [minute_buckets, hour_buckets])
@given(script=steps, first=st.integers(-80, 260), span=st.integers(0, 200))
def test_buckets_hold_what_a_dict_of_them_would(
    made: Callable[[], Buckets], script: list[tuple[str, int, int]], first: int, span: int
) -> None:
    """Loose buckets and arrays by group (core.histogram.Buckets: minutes by hour, hours
    by day) against the dict they replaced, on groups both sparse and dense."""
    counts, model = made(), dict[int, int]()
    width = 60 if made is minute_buckets else 24
    for step, bucket, n in script:
        adds = [(bucket, n)] if step == "add" else [(bucket + i, 1) for i in range(n)]
        if step == "drop":
            dropped = counts.drop_before(bucket)
            assert sorted(dropped) == sorted((b, v) for b, v in model.items() if b < bucket)
            model = {b: v for b, v in model.items() if b >= bucket}
            adds = []
        for at, add in adds:
            counts.add(at, add)
            model[at] = model.get(at, 0) + add
            if not model[at]:
                del model[at]
        assert len(counts) == len(model)
    assert dict(counts.items()) == model
    assert sorted(counts) == sorted(model)  # iterated as a dict's keys, and it ends
    for group in {b // width for b in model} | {first // width}:
        held = sorted((b, v) for b, v in model.items() if b // width == group)
        assert counts.group(group) == held
    assert sorted(counts.values()) == sorted(model.values())
    assert all(counts[b] == v and b in counts for b, v in model.items())
    assert (first in counts) == (first in model) and counts.get(first) == model.get(first, 0)
    expected = sum(v for b, v in model.items() if first <= b < first + span)
    assert counts.sum_between(first, first + span) == expected


def test_a_quiet_hour_stays_loose_and_a_busy_one_becomes_an_array() -> None:
    """The memory the two shapes are for: a minute an hour held as dict entries, every
    minute of an hour in one array (an array per quiet hour would be 544 B a minute)."""
    quiet, busy = minute_buckets(), minute_buckets()
    for hour in range(50):
        quiet.add(hour * 60 + 7, 300)
        for minute in range(hour * 60, hour * 60 + 60):
            busy.add(minute, 300)
    assert quiet.nbytes() / len(quiet) < 150
    assert busy.nbytes() / len(busy) < 15


def test_an_hour_turns_dense_with_every_count_kept_even_past_64_bits() -> None:
    counts = minute_buckets()
    held = {7: 2**70, 8: -3}
    held.update({9 + i: i + 1 for i in range(MINUTES_DENSE_AT - 4)})
    for minute, n in held.items():
        counts.add(minute, n)
    counts.add(50, 4)
    counts.add(50, -4)  # back to 0: not a minute held
    counts.add(70, 1)  # another hour's minute does not count towards this one's
    before = counts.nbytes()
    counts.add(51, 6)  # the last one loose: one dict entry more
    assert counts.nbytes() - before < 200
    before = counts.nbytes()
    counts.add(52, 2)  # MINUTES_DENSE_AT held: a list of 60 (2**70 passes 64 bits)
    assert counts.nbytes() - before > 400
    hour = {**held, 51: 6, 52: 2}
    assert len(hour) == MINUTES_DENSE_AT
    assert dict(counts.items()) == {**hour, 70: 1}
    assert counts.group(0) == sorted(hour.items())
    assert (
        len(counts) == MINUTES_DENSE_AT + 1 and counts.sum_between(0, 71) == sum(hour.values()) + 1
    )


def test_prunes_one_after_another_drop_every_older_minute() -> None:
    """Prunes skip the scan of loose minutes when none is older: never one too many."""
    counts = minute_buckets()
    for minute in (3, 12, 13, 40):
        counts.add(minute, 1)
    for floor, left in ((10, [12, 13, 40]), (13, [13, 40]), (14, [40]), (14, [40])):
        counts.drop_before(floor)
        assert sorted(counts) == left and len(counts) == len(left)
    counts.add(5, 1)  # a late minute, older than the last prune's floor
    counts.drop_before(6)
    assert sorted(counts) == [40] and counts.sum_between(0, 60) == 1


hour_counts = st.dictionaries(st.integers(0, 24 * 6), st.integers(-5, 50).filter(bool))


@given(hour_counts, st.integers(0, 24 * 6), st.integers(0, 24 * 6), st.integers(0, 24 * 4))
def test_hours_dropped_leave_the_days_summing_what_is_kept(
    hours: dict[int, int], floor: int, first: int, span: int
) -> None:
    """A prune of hours takes their counts out of their days too: a window read by whole
    days then sums the hours kept, as one read hour by hour would."""
    hist = BucketHistogram()
    for hour, n in hours.items():
        hist.add_hour(hour, n)
    hist.drop_hours_before(floor)
    kept = {h: n for h, n in hours.items() if h >= floor}
    last_hour = first + span
    expected = sum(n for h, n in kept.items() if h >= first and h // 24 <= last_hour // 24)
    assert hist.since_hour(first, last_hour) == expected
    assert dict(hist.hours.items()) == kept


def test_buckets_with_the_same_counts_are_equal_however_they_hold_them() -> None:
    dense, loose = minute_buckets(), Buckets(60, dense_at=61)  # never an array
    for minute in range(60):
        dense.add(minute, 1)
        loose.add(minute, 2)
        loose.add(minute, -1)
    assert dense == loose and dense != hour_buckets() and dense != dict.fromkeys(range(60), 1)
    loose.add(3, 1)
    assert dense != loose
    assert BucketHistogram(minutes=dense) != BucketHistogram()
    by_day = Buckets(24, dense_at=4)  # hours by day: the same counts, another grouping
    for minute in range(60):
        by_day.add(minute, 1)
    assert dense != by_day


@pytest.mark.parametrize("made", [minute_buckets, hour_buckets])
def test_a_prune_after_a_late_count_below_the_last_floor_drops_it(
    made: Callable[[], Buckets],
) -> None:
    """Prunes skip when nothing held is older than their floor: a count added below the
    last floor, into an array a prune cut or as a loose bucket, moves that bound back."""
    counts = made()
    for bucket in range(24):
        counts.add(bucket, 1)  # one array
    counts.add(100, 1)  # and a loose bucket
    assert len(counts.drop_before(12)) == 12
    assert counts.drop_before(12) == []  # nothing older: skipped
    counts.add(5, 7)  # into the array, below the floor
    counts.add(11, 2)
    counts.add(50, 3)  # loose, above it
    assert counts.drop_before(10) == [(5, 7)]
    assert sorted(counts.drop_before(20)) == [(11, 2), *((b, 1) for b in range(12, 20))]
    assert sorted(counts) == [*range(20, 24), 50, 100] and len(counts) == 6


def test_the_count_that_makes_a_group_an_array_is_pruned_when_it_is_the_oldest() -> None:
    counts = Buckets(24, dense_at=4)
    for bucket in (10, 11, 12):
        counts.add(bucket, 1)  # loose
    counts.add(3, 1)  # the fourth: the group becomes an array, with an older bucket
    assert counts.drop_before(5) == [(3, 1)]
