"""Event-time window sums over the aggregates of several partitions.

A window of up to 24 h covers whole minutes: the minute of the reference
time and the minutes before it (1 h = 60 of them). Longer windows cover
whole hours likewise. Everything newer than the reference time is included.
"""

from __future__ import annotations

from collections.abc import Iterable

from tracker.core.aggregates import Aggregates
from tracker.core.histogram import MINUTE_MS

DAY_S = 86_400


def window_sum(aggs: Iterable[Aggregates], name: str, ref_ms: int, seconds: int) -> int:
    aggs = list(aggs)
    last_hour = max([ref_ms // 3_600_000, *(a.newest_minute // 60 for a in aggs)])
    total = 0
    if seconds <= DAY_S:
        first_minute = ref_ms // MINUTE_MS - seconds // 60 + 1
        for agg in aggs:
            hist = agg.hists.get(name)
            if hist is not None:
                total += hist.since_minute(first_minute, last_hour)
    else:
        first_hour = ref_ms // 3_600_000 - seconds // 3600 + 1
        for agg in aggs:
            hist = agg.hists.get(name)
            if hist is not None:
                total += hist.since_hour(first_hour, last_hour)
    return total


def ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else float("nan")


def window_label(seconds: float) -> str:
    if seconds % DAY_S == 0:
        return f"{int(seconds // DAY_S)}d"
    if seconds % 3600 == 0:
        return f"{int(seconds // 3600)}h"
    return f"{int(seconds)}s"
