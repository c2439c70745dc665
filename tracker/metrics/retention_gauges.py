"""Renders the retention and churn gauges (docs/metrics.md#retention) at scrape time.

Every figure is a window sum of per-minute and per-hour buckets over the active
partitions (``tracker.core.retention`` keeps them per event), or a counter summed
over them, so it is exact across workers.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import Metric

from tracker.core.aggregates import SEP, Aggregates
from tracker.core.contract import CHANNELS
from tracker.core.labels import WINDOWS
from tracker.core.retention import LAPSED_KEY
from tracker.core.windows import ratio, window_label, window_sum
from tracker.metrics.families import gauge_of


def retention_gauges(aggs: list[Aggregates], ref: int, lookback_s: float) -> Iterator[Metric]:
    new: list[tuple[list[str], float]] = []
    returning: list[tuple[list[str], float]] = []
    lapsed: list[tuple[list[str], float]] = []
    for window, seconds in WINDOWS.items():
        reach = {c: window_sum(aggs, f"reach:{c}", ref, seconds) for c in (*CHANNELS, "all")}
        first = {c: window_sum(aggs, f"new:{c}", ref, seconds) for c in CHANNELS}
        first["all"] = sum(first.values())
        for channel in CHANNELS:
            # Seen on the channel in the window, first seen before it (tracker.core.retention).
            later = first[channel] + window_sum(aggs, f"nfo:{channel}", ref, seconds)
            old = reach[channel] - later
            new.append(([window, channel], first[channel]))
            returning.append(([window, channel], old))
        new.append(([window, "all"], first["all"]))
        returning.append(([window, "all"], reach["all"] - first["all"]))
        by_channel = {c: window_sum(aggs, f"lapse:{c}", ref, seconds) for c in CHANNELS}
        lapsed += [
            ([window, c], n) for c, n in (*by_channel.items(), ("all", sum(by_channel.values())))
        ]
    yield gauge_of("tracker_customers_new", new)
    yield gauge_of("tracker_customers_returning", returning)
    now = {c: sum(a.counter(f"{LAPSED_KEY}{SEP}{c}") for a in aggs) for c in CHANNELS}
    yield gauge_of(
        "tracker_customers_lapsed",
        [([c], n) for c, n in (*now.items(), ("all", sum(now.values())))],
    )
    yield gauge_of("tracker_customers_lapsed_window", lapsed)
    yield from _repurchase(aggs, ref, int(lookback_s))


def _repurchase(aggs: list[Aggregates], ref: int, seconds: int) -> Iterator[Metric]:
    label = window_label(seconds)
    buyers = {c: window_sum(aggs, f"rp1:{c}", ref, seconds) for c in CHANNELS}
    repeat = {c: window_sum(aggs, f"rp2:{c}", ref, seconds) for c in CHANNELS}
    buyers["all"], repeat["all"] = sum(buyers.values()), sum(repeat.values())
    keys = list(buyers)
    yield gauge_of(
        "tracker_repurchase_customers_by_first_channel_window",
        [([label, c], buyers[c]) for c in keys],
    )
    yield gauge_of(
        "tracker_repurchase_repeat_customers_by_first_channel_window",
        [([label, c], repeat[c]) for c in keys],
    )
    yield gauge_of(
        "tracker_repurchase_rate_by_first_channel",
        [([label, c], ratio(repeat[c], buyers[c])) for c in keys],
    )
