"""Histogram rows of the changelog (``m/<hour>``, ``h/<day>``): the buckets a dict of them
would write, in bucket order, and read back into the same histograms."""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from tracker.core.aggregates import Aggregates, Delta, wire_int
from tracker.core.histogram import HOUR_HORIZON, MINUTE_HORIZON, BucketHistogram

DAY_MINUTES = 1440
# Minutes over ~100 days (past the hours' 92-day horizon, so hours are pruned too),
# counts past 64 bits and back, and runs of one day's hours that fill it into an array.
deltas = st.lists(
    st.one_of(
        st.tuples(st.integers(0, 100 * DAY_MINUTES), st.integers(-(2**66), 2**66)),
        st.tuples(st.integers(0, 100 * DAY_MINUTES), st.integers(-3, 5)),
        st.tuples(st.integers(0, 100).map(lambda d: d * DAY_MINUTES), st.just("day")),
    ),
    max_size=40,
)


@given(deltas)
def test_rows_hold_the_kept_buckets_and_read_back_the_same(
    script: list[tuple[int, int | str]],
) -> None:
    aggregates, minutes, hours = Aggregates(), dict[int, int](), dict[int, int]()
    written: dict[str, bytes | None] = {}
    for epoch, (minute, n) in enumerate(script):
        # A "day" step: one count in each hour of that day, at its first minute.
        adds = [(minute + h * 60, 1) for h in range(24)] if n == "day" else [(minute, int(n))]
        for at, add in adds:
            delta = Delta(max_event_ms=at * 60_000)
            delta.bucket("x", at, add)
            minute_floor, hour_floor = aggregates.minute_floor(), aggregates.hour_floor()
            aggregates.apply(delta)
            for model, key, floor in ((minutes, at, minute_floor), (hours, at // 60, hour_floor)):
                if key >= floor and add:
                    model[key] = model.get(key, 0) + add
        written.update(aggregates.take_dirty_rows(epoch))
        watermark = aggregates.watermark_minute()
        minutes = {m: v for m, v in minutes.items() if v and m >= watermark - MINUTE_HORIZON}
        hours = {h: v for h, v in hours.items() if v and h >= watermark // 60 - HOUR_HORIZON}
    hist = aggregates.hists.get("x")
    if hist is None:
        return
    assert dict(hist.minutes.items()) == minutes and dict(hist.hours.items()) == hours
    days: dict[int, int] = {}
    for hour, v in hours.items():
        days[hour // 24] = days.get(hour // 24, 0) + v
    assert hist.days == {d: v for d, v in days.items() if v}
    last = len(script) - 1
    for row, raw in written.items():  # rows written last: after the last prune
        if row.startswith(("m/", "h/")) and raw is not None and orjson.loads(raw)["e"] == last:
            index, width, model = (
                (int(row[2:]), 60, minutes) if row[0] == "m" else (int(row[2:]), 24, hours)
            )
            expected = [
                ["x", b, wire_int(model[b])]
                for b in range(index * width, index * width + width)
                if b in model
            ]
            assert orjson.loads(raw)["v"] == orjson.loads(orjson.dumps(expected)), row
    restored = Aggregates()
    for row, raw in written.items():
        if raw is not None:
            restored.load_row(row, raw)
    list(restored.take_dirty_rows(last + 1))  # prunes what older rows still held
    assert restored.hists.get("x", BucketHistogram()) == hist
