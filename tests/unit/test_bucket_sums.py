"""Window sums read buckets by key or by bucket, whichever is fewer: the same total."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tracker.core.histogram import BucketHistogram, MinuteCounts

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


# Minutes across a few hours; counts up to past 64 bits (revenue in millionths), and back.
steps = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(-70, 250), st.integers(-(2**70), 2**70)),
        st.tuples(st.just("add"), st.integers(-70, 250), st.integers(-3, 3)),
        st.tuples(st.just("drop"), st.integers(-80, 260), st.just(0)),
    ),
    max_size=80,
)


@given(steps, st.integers(-80, 260), st.integers(0, 200))
def test_minute_counts_hold_what_a_dict_of_minutes_would(
    script: list[tuple[str, int, int]], first: int, span: int
) -> None:
    """The arrays by hour (core.histogram.MinuteCounts) against the dict they replaced."""
    counts, model = MinuteCounts(), dict[int, int]()
    for step, minute, n in script:
        if step == "add":
            counts.add(minute, n)
            model[minute] = model.get(minute, 0) + n
            if not model[minute]:
                del model[minute]
        else:
            counts.drop_before(minute)
            model = {m: v for m, v in model.items() if m >= minute}
        assert len(counts) == len(model)
    assert dict(counts.items()) == model
    assert sorted(counts) == sorted(model)  # iterated as a dict's keys, and it ends
    for hour in {m // 60 for m in model}:
        held = counts.hour(hour)
        assert held is not None and len(held) == 60
        assert {hour * 60 + i: n for i, n in enumerate(held) if n} == {
            m: v for m, v in model.items() if m // 60 == hour
        }
    assert sorted(counts.values()) == sorted(model.values())
    assert all(counts[m] == v and m in counts for m, v in model.items())
    assert (first in counts) == (first in model) and counts.get(first) == model.get(first, 0)
    expected = sum(v for m, v in model.items() if first <= m < first + span)
    assert counts.sum_between(first, first + span) == expected
