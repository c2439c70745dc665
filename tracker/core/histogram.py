"""Counts by event-time bucket, summed over a window at scrape time.

Windows up to 24 h are resolved to the minute, longer ones (7 d, 28 d, 90 d)
to the hour: minute buckets are kept only for the last ``MINUTE_HORIZON``.
Sums read at most a few dozen buckets, never one entry per customer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import repeat

MINUTE_MS = 60_000
# minutes: a 24 h window and the 24 h before it (the overview's change), plus slack
MINUTE_HORIZON = 50 * 60
HOUR_HORIZON = 92 * 24  # hours: a 90 d window plus slack


def minute_of(ms: int) -> int:
    return ms // MINUTE_MS


@dataclass(slots=True)
class BucketHistogram:
    minutes: dict[int, int] = field(default_factory=dict)
    hours: dict[int, int] = field(default_factory=dict)
    days: dict[int, int] = field(default_factory=dict)

    def add_minute(self, minute: int, n: int) -> None:
        _bump(self.minutes, minute, n)

    def add_hour(self, hour: int, n: int) -> None:
        _bump(self.hours, hour, n)
        _bump(self.days, hour // 24, n)

    def since_minute(self, first: int, last_hour: int) -> int:
        """Sum of buckets from minute ``first`` on (``last_hour``: newest hour to read)."""
        hour = first // 60
        total = _sum_between(self.minutes, first, (hour + 1) * 60)
        return total + _sum_between(self.hours, hour + 1, last_hour + 1)

    def since_hour(self, first: int, last_hour: int) -> int:
        day = first // 24
        total = _sum_between(self.hours, first, (day + 1) * 24)
        return total + _sum_between(self.days, day + 1, last_hour // 24 + 1)

    def drop_minutes_before(self, minute: int) -> None:
        for key in [m for m in self.minutes if m < minute]:
            del self.minutes[key]

    def drop_hours_before(self, hour: int) -> None:
        for key in [h for h in self.hours if h < hour]:
            count = self.hours.pop(key)
            _bump(self.days, key // 24, -count)


def _sum_between(buckets: dict[int, int], first: int, end: int) -> int:
    """Sum of the buckets ``first`` <= key < ``end``: by key, or by bucket when fewer.

    Scrapes sum ~650 windows per partition; this was half of a scrape's collect time.
    """
    if end - first <= len(buckets):
        return sum(map(buckets.get, range(first, end), repeat(0)))
    return sum(n for key, n in buckets.items() if first <= key < end)


def _bump(buckets: dict[int, int], key: int, n: int) -> None:
    value = buckets.get(key, 0) + n
    if value:
        buckets[key] = value
    else:
        buckets.pop(key, None)
