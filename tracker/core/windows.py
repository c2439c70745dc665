"""Event-time window sums over the aggregates of several partitions.

A window of up to 24 h covers whole minutes: the minute of the reference
time and the minutes before it (1 h = 60 of them). Longer windows cover
whole hours likewise. Everything newer than the reference time is included.

The previous window is the one of the same length just before (the 24 h
before the last 24 h), at the same resolution, when the buckets reach back
that far (``MINUTE_HORIZON``, ``HOUR_HORIZON``).
"""

from __future__ import annotations

from collections.abc import Iterable

from tracker.core.aggregates import Aggregates
from tracker.core.histogram import HOUR_HORIZON, MINUTE_HORIZON, MINUTE_MS

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


def previous_kept(seconds: int) -> bool:
    """Whether the buckets reach back over the window before a window of ``seconds``."""
    if seconds <= DAY_S:
        return 2 * seconds // 60 <= MINUTE_HORIZON
    return 2 * seconds // 3600 <= HOUR_HORIZON


def previous_window_sum(
    aggs: Iterable[Aggregates], name: str, ref_ms: int, seconds: int
) -> int | None:
    """The sum over the window of ``seconds`` just before the current one; None: not kept."""
    if not previous_kept(seconds):
        return None
    aggs = list(aggs)
    last_hour = max([ref_ms // 3_600_000, *(a.newest_minute // 60 for a in aggs)])
    total = 0
    if seconds <= DAY_S:
        end = ref_ms // MINUTE_MS - seconds // 60 + 1  # the current window's first minute
        for agg in aggs:
            hist = agg.hists.get(name)
            if hist is not None:
                total += hist.since_minute(end - seconds // 60, last_hour)
                total -= hist.since_minute(end, last_hour)
    else:
        end = ref_ms // 3_600_000 - seconds // 3600 + 1
        for agg in aggs:
            hist = agg.hists.get(name)
            if hist is not None:
                total += hist.since_hour(end - seconds // 3600, last_hour)
                total -= hist.since_hour(end, last_hour)
    return total


def ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else float("nan")


def window_label(seconds: float) -> str:
    if seconds % DAY_S == 0:
        return f"{int(seconds // DAY_S)}d"
    if seconds % 3600 == 0:
        return f"{int(seconds // 3600)}h"
    return f"{int(seconds)}s"
