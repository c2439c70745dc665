"""Counts by event-time bucket, summed over a window at scrape time.

Windows up to 24 h are resolved to the minute, longer ones (7 d, 28 d, 90 d)
to the hour: minute buckets are kept only for the last ``MINUTE_HORIZON``.
Sums read at most a few dozen buckets, never one entry per customer.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import repeat
from typing import Final

MINUTE_MS = 60_000
# minutes: a 24 h window and the 24 h before it (the overview's change), plus slack
MINUTE_HORIZON = 50 * 60
HOUR_HORIZON = 92 * 24  # hours: a 90 d window plus slack


def minute_of(ms: int) -> int:
    return ms // MINUTE_MS


MINUTES_PER_HOUR: Final = 60
_NO_MINUTE: Final = 2**62  # later than any minute: the oldest of no minutes
_EMPTY_HOUR: Final = bytes(8 * MINUTES_PER_HOUR)  # 60 zero counts of 64 bits
# An hour turns from loose minutes into an array when this many of its minutes hold a
# count: from there its array (~680 B with its key and dict slot) costs less than their
# dict entries (~95 B each). Measured at 1-60 minutes an hour: 8 holds every density in
# the less of the two, within 10%.
DENSE_AT: Final = 8


class MinuteCounts:
    """Counts by minute: the minute buckets of a histogram, loose or as arrays by hour.

    Kept for ``MINUTE_HORIZON`` (50 hours), they are the part of a worker's memory that
    grows longest. A dict entry and two int objects cost ~106 B a minute (a soak's
    ``/debug/memory``, BENCHMARKS.md), and on busy label sets most minutes hold a count
    (11.2 of 12 in a replay of the soak's traffic), where an array of 60 int64 (544 B an
    hour) holds them in less: ~12 B a minute against ~109 over 50 hours of minutes filled
    so. Where a label set is quiet (a minute or two an hour: scenario 6's stream) the
    array costs more than the entries. So an hour's minutes stay loose, in one dict of
    minutes, until ``DENSE_AT`` of them hold a count, and then move into an array. An
    array hour whose count passes 64 bits (revenue in millionths) becomes a list of
    Python ints.
    """

    __slots__ = ("_filled", "_hours", "_loose", "_oldest")

    def __init__(self) -> None:
        self._loose: dict[int, int] = {}  # minute -> count (never 0) of the sparse hours
        self._oldest = _NO_MINUTE  # no loose minute is older: most prunes skip the scan
        self._hours: dict[int, array[int] | list[int]] = {}  # the dense hours' 60 counts
        self._filled = 0  # minutes whose count is not 0, as a dict of them would hold

    def __len__(self) -> int:
        return self._filled

    def __contains__(self, minute: int) -> bool:
        return self.get(minute) != 0

    def __getitem__(self, minute: int) -> int:
        return self.get(minute)

    def __iter__(self) -> Iterator[int]:
        """The minutes whose count is not 0, as a dict of them iterates its keys (without
        it, Python would iterate ``__getitem__`` from 0 on, and never stop)."""
        return (minute for minute, _ in self.items())

    def hour(self, hour: int) -> list[tuple[int, int]]:
        """(minute, count) of ``hour``'s minutes whose count is not 0, in minute order."""
        start = hour * MINUTES_PER_HOUR
        counts = self._hours.get(hour)
        if counts is not None:
            return [(start + i, n) for i, n in enumerate(counts) if n]
        loose = self._loose
        end = start + MINUTES_PER_HOUR
        if len(loose) < MINUTES_PER_HOUR:  # a quiet label set: fewer entries than minutes
            return sorted((m, n) for m, n in loose.items() if start <= m < end)
        held: list[tuple[int, int]] = []
        for minute in range(start, end):
            n = loose.get(minute, 0)
            if n:
                held.append((minute, n))
        return held

    def get(self, minute: int) -> int:
        counts = self._hours.get(minute // MINUTES_PER_HOUR)
        if counts is None:
            return self._loose.get(minute, 0)
        return counts[minute % MINUTES_PER_HOUR]

    def add(self, minute: int, n: int) -> None:
        hour, at = divmod(minute, MINUTES_PER_HOUR)
        counts = self._hours.get(hour)
        if counts is None:
            loose = self._loose
            before = loose.get(minute, 0)
            after = before + n
            if before or not after or not self._fills_hour(hour):
                if after:
                    loose[minute] = after
                    self._oldest = min(self._oldest, minute)
                elif before:
                    del loose[minute]
                self._filled += (after != 0) - (before != 0)
                return
            counts = self._make_dense(hour)
        before = counts[at]
        after = before + n
        try:
            counts[at] = after
        except OverflowError:
            counts = self._hours[hour] = list(counts)
            counts[at] = after
        self._filled += (after != 0) - (before != 0)

    def _fills_hour(self, hour: int) -> bool:
        """One more loose minute would make ``hour`` dense (asked on a minute's first
        count: at most once a minute per label set, so the scan of 60 costs little)."""
        loose = self._loose
        if len(loose) + 1 < DENSE_AT:
            return False
        start = hour * MINUTES_PER_HOUR
        held = sum(1 for m in range(start, start + MINUTES_PER_HOUR) if m in loose)
        return held + 1 >= DENSE_AT

    def _make_dense(self, hour: int) -> array[int] | list[int]:
        """Moves ``hour``'s loose minutes into an array of 60 (a list if one is too big)."""
        start = hour * MINUTES_PER_HOUR
        counts: array[int] | list[int] = array("q", _EMPTY_HOUR)
        for minute in range(start, start + MINUTES_PER_HOUR):
            n = self._loose.pop(minute, 0)
            if n:
                try:
                    counts[minute - start] = n
                except OverflowError:
                    counts = list(counts)
                    counts[minute - start] = n
        self._hours[hour] = counts
        return counts

    def sum_between(self, first: int, end: int) -> int:
        """Sum of the counts of minutes ``first`` <= minute < ``end``."""
        total = 0
        for hour in range(first // MINUTES_PER_HOUR, (end - 1) // MINUTES_PER_HOUR + 1):
            start = hour * MINUTES_PER_HOUR
            counts = self._hours.get(hour)
            if counts is not None:
                total += sum(counts[max(first - start, 0) : min(end - start, MINUTES_PER_HOUR)])
            elif self._loose:
                total += _sum_between(
                    self._loose, max(first, start), min(end, start + MINUTES_PER_HOUR)
                )
        return total

    def drop_before(self, minute: int) -> None:
        loose = self._loose
        if minute > self._oldest:
            old = [m for m in loose if m < minute]
            for m in old:
                del loose[m]
            self._filled -= len(old)
            self._oldest = min(loose, default=_NO_MINUTE)
        first_hour, at = divmod(minute, MINUTES_PER_HOUR)
        for hour in [h for h in self._hours if h < first_hour]:
            self._filled -= sum(1 for n in self._hours.pop(hour) if n)
        counts = self._hours.get(first_hour)
        if counts is not None:
            for i in range(at):
                if counts[i]:
                    self._filled -= 1
                    counts[i] = 0

    def items(self) -> Iterator[tuple[int, int]]:
        """(minute, count) of every minute whose count is not 0: loose, then by hour."""
        yield from self._loose.items()
        for hour, counts in self._hours.items():
            start = hour * MINUTES_PER_HOUR
            for i, n in enumerate(counts):
                if n:
                    yield start + i, n

    def values(self) -> Iterator[int]:
        return (n for _, n in self.items())

    def nbytes(self) -> int:
        """Python's own size of what this holds: its dicts, their keys, counts and arrays
        (a list hour's ints too)."""
        size = sys.getsizeof(self._loose) + sys.getsizeof(self._hours)
        size += sum(sys.getsizeof(m) + sys.getsizeof(n) for m, n in self._loose.items())
        for hour, counts in self._hours.items():
            size += sys.getsizeof(hour) + sys.getsizeof(counts)
            if isinstance(counts, list):
                size += sum(sys.getsizeof(n) for n in counts)
        return size


@dataclass(slots=True)
class BucketHistogram:
    minutes: MinuteCounts = field(default_factory=MinuteCounts)
    hours: dict[int, int] = field(default_factory=dict)
    days: dict[int, int] = field(default_factory=dict)

    def add_minute(self, minute: int, n: int) -> None:
        self.minutes.add(minute, n)

    def add_hour(self, hour: int, n: int) -> None:
        _bump(self.hours, hour, n)
        _bump(self.days, hour // 24, n)

    def since_minute(self, first: int, last_hour: int) -> int:
        """Sum of buckets from minute ``first`` on (``last_hour``: newest hour to read)."""
        hour = first // 60
        total = self.minutes.sum_between(first, (hour + 1) * 60)
        return total + _sum_between(self.hours, hour + 1, last_hour + 1)

    def since_hour(self, first: int, last_hour: int) -> int:
        day = first // 24
        total = _sum_between(self.hours, first, (day + 1) * 24)
        return total + _sum_between(self.days, day + 1, last_hour // 24 + 1)

    def drop_minutes_before(self, minute: int) -> None:
        self.minutes.drop_before(minute)

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
