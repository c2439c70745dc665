"""Window sums read buckets by key or by bucket, whichever is fewer: the same total."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tracker.core.histogram import DENSE_AT, BucketHistogram, MinuteCounts

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


@given(steps, st.integers(-80, 260), st.integers(0, 200))
def test_minute_counts_hold_what_a_dict_of_minutes_would(
    script: list[tuple[str, int, int]], first: int, span: int
) -> None:
    """Loose minutes and arrays by hour (core.histogram.MinuteCounts) against the dict they
    replaced, on hours both sparse and dense."""
    counts, model = MinuteCounts(), dict[int, int]()
    for step, minute, n in script:
        adds = [(minute, n)] if step == "add" else [(minute + i, 1) for i in range(n)]
        if step == "drop":
            counts.drop_before(minute)
            model = {m: v for m, v in model.items() if m >= minute}
            adds = []
        for at, add in adds:
            counts.add(at, add)
            model[at] = model.get(at, 0) + add
            if not model[at]:
                del model[at]
        assert len(counts) == len(model)
    assert dict(counts.items()) == model
    assert sorted(counts) == sorted(model)  # iterated as a dict's keys, and it ends
    for hour in {m // 60 for m in model} | {first // 60}:
        assert counts.hour(hour) == sorted((m, v) for m, v in model.items() if m // 60 == hour)
    assert sorted(counts.values()) == sorted(model.values())
    assert all(counts[m] == v and m in counts for m, v in model.items())
    assert (first in counts) == (first in model) and counts.get(first) == model.get(first, 0)
    expected = sum(v for m, v in model.items() if first <= m < first + span)
    assert counts.sum_between(first, first + span) == expected


def test_a_quiet_hour_stays_loose_and_a_busy_one_becomes_an_array() -> None:
    """The memory the two shapes are for: a minute an hour held as dict entries, every
    minute of an hour in one array (an array per quiet hour would be 544 B a minute)."""
    quiet, busy = MinuteCounts(), MinuteCounts()
    for hour in range(50):
        quiet.add(hour * 60 + 7, 300)
        for minute in range(hour * 60, hour * 60 + 60):
            busy.add(minute, 300)
    assert quiet.nbytes() / len(quiet) < 150
    assert busy.nbytes() / len(busy) < 15


def test_an_hour_turns_dense_with_every_count_kept_even_past_64_bits() -> None:
    counts = MinuteCounts()
    held = {7: 2**70, 8: -3}
    held.update({9 + i: i + 1 for i in range(DENSE_AT - 4)})
    for minute, n in held.items():
        counts.add(minute, n)
    counts.add(50, 4)
    counts.add(50, -4)  # back to 0: not a minute held
    counts.add(70, 1)  # another hour's minute does not count towards this one's
    before = counts.nbytes()
    counts.add(51, 6)  # the last one loose: one dict entry more
    assert counts.nbytes() - before < 200
    before = counts.nbytes()
    counts.add(52, 2)  # DENSE_AT held: a list of 60 (2**70 passes 64 bits)
    assert counts.nbytes() - before > 400
    hour = {**held, 51: 6, 52: 2}
    assert len(hour) == DENSE_AT
    assert dict(counts.items()) == {**hour, 70: 1}
    assert counts.hour(0) == sorted(hour.items())
    assert len(counts) == DENSE_AT + 1 and counts.sum_between(0, 71) == sum(hour.values()) + 1


def test_prunes_one_after_another_drop_every_older_minute() -> None:
    """Prunes skip the scan of loose minutes when none is older: never one too many."""
    counts = MinuteCounts()
    for minute in (3, 12, 13, 40):
        counts.add(minute, 1)
    for floor, left in ((10, [12, 13, 40]), (13, [13, 40]), (14, [40]), (14, [40])):
        counts.drop_before(floor)
        assert sorted(counts) == left and len(counts) == len(left)
    counts.add(5, 1)  # a late minute, older than the last prune's floor
    counts.drop_before(6)
    assert sorted(counts) == [40] and counts.sum_between(0, 60) == 1
