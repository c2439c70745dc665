"""Window sums read buckets by key or by bucket, whichever is fewer: the same total."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tracker.core.histogram import BucketHistogram

# Keys near few hour boundaries, dicts both sparser and denser than a range: both ways.
buckets = st.dictionaries(st.integers(0, 180), st.integers(-5, 50).filter(bool), max_size=120)


@given(buckets, st.integers(-10, 190), st.integers(0, 130))
def test_a_range_sums_the_buckets_inside_it(minutes: dict[int, int], first: int, span: int) -> None:
    hist = BucketHistogram(minutes=dict(minutes))
    for minute, n in minutes.items():
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
