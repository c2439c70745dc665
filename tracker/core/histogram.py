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

MINUTE_MS: Final = 60_000  # Final: compiled, the literal itself in ``minute_of`` (per event)
# minutes: a 24 h window and the 24 h before it (the overview's change), plus slack
MINUTE_HORIZON = 50 * 60
HOUR_HORIZON = 92 * 24  # hours: a 90 d window plus slack


def minute_of(ms: int) -> int:
    return ms // MINUTE_MS


MINUTES_PER_HOUR: Final = 60
HOURS_PER_DAY: Final = 24
_NO_BUCKET: Final = 2**62  # later than any bucket: the oldest of none
# A group (an hour's minutes, a day's hours) turns from loose buckets into an array when
# this many of its buckets hold a count: from there its array (60 int64 with its key and
# dict slot, ~680 B; 24, ~380 B) costs less than their dict entries (~95-105 B each).
# Measured at every density from 1 to all: these keep each within 10% of the smaller.
MINUTES_DENSE_AT: Final = 8
HOURS_DENSE_AT: Final = 4


class Buckets:
    """Counts by bucket (minute or hour) of a histogram, loose or as arrays by group.

    Minutes are kept for ``MINUTE_HORIZON`` (50 hours), hours for ``HOUR_HORIZON`` (92
    days): the part of a worker's memory that grows longest. A dict entry and two int
    objects cost ~106 B a bucket (a soak's ``/debug/memory``, BENCHMARKS.md). On busy
    label sets most buckets hold a count (11.2 of 12 minutes in a replay of the soak's
    traffic), and an array of a group's counts as int64 (60 minutes of an hour: 544 B)
    holds them in less: ~12 B a minute against ~109 over 50 hours of minutes filled so.
    Where a label set is quiet (a minute or two an hour: scenario 6's stream) the array
    costs more than the entries. So a group's buckets stay loose, in one dict, until
    ``dense_at`` of them hold a count, and then move into an array of ``width``. An array
    whose count passes 64 bits (revenue in millionths) becomes a list of Python ints.
    """

    __slots__ = ("_dense_at", "_filled", "_groups", "_loose", "_oldest", "_width")

    def __init__(self, width: int, dense_at: int) -> None:
        self._width = width
        self._dense_at = dense_at
        self._loose: dict[int, int] = {}  # bucket -> count (never 0) of the sparse groups
        # No bucket held is older (loose or in an array): a prune before it, which is most
        # of them (a flush prunes every label set), returns at once.
        self._oldest = _NO_BUCKET
        self._groups: dict[int, array[int] | list[int]] = {}  # the dense groups' counts
        self._filled = 0  # buckets whose count is not 0, as a dict of them would hold

    def __len__(self) -> int:
        return self._filled

    def __eq__(self, other: object) -> bool:
        """The same counts, loose or in arrays, compare equal (as dicts of them would)."""
        if not isinstance(other, Buckets):
            return NotImplemented
        return self._width == other._width and dict(self.items()) == dict(other.items())

    def __contains__(self, bucket: int) -> bool:
        return self.get(bucket) != 0

    def __getitem__(self, bucket: int) -> int:
        return self.get(bucket)

    def __iter__(self) -> Iterator[int]:
        """The buckets whose count is not 0, as a dict of them iterates its keys (without
        it, Python would iterate ``__getitem__`` from 0 on, and never stop)."""
        return (bucket for bucket, _ in self.items())

    def group(self, group: int) -> list[tuple[int, int]]:
        """(bucket, count) of ``group``'s buckets whose count is not 0, in bucket order."""
        width = self._width
        start = group * width
        counts = self._groups.get(group)
        if counts is not None:
            return [(start + i, n) for i, n in enumerate(counts) if n]
        loose = self._loose
        end = start + width
        if len(loose) < width:  # a quiet label set: fewer entries than buckets
            return sorted((b, n) for b, n in loose.items() if start <= b < end)
        held: list[tuple[int, int]] = []
        for bucket in range(start, end):
            n = loose.get(bucket, 0)
            if n:
                held.append((bucket, n))
        return held

    def get(self, bucket: int) -> int:
        counts = self._groups.get(bucket // self._width)
        if counts is None:
            return self._loose.get(bucket, 0)
        return counts[bucket % self._width]

    def add(self, bucket: int, n: int) -> None:
        group, at = divmod(bucket, self._width)
        counts = self._groups.get(group)
        if counts is None:
            loose = self._loose
            before = loose.get(bucket, 0)
            after = before + n
            if before or not after or not self._fills_group(group):
                if after:
                    loose[bucket] = after
                    self._oldest = min(self._oldest, bucket)
                elif before:
                    del loose[bucket]
                self._filled += (after != 0) - (before != 0)
                return
            counts = self._make_dense(group)
        elif bucket < self._oldest:  # a group an earlier prune cut: below its floor
            self._oldest = bucket
        before = counts[at]
        after = before + n
        try:
            counts[at] = after
        except OverflowError:
            counts = self._groups[group] = list(counts)
            counts[at] = after
        self._filled += (after != 0) - (before != 0)

    def _fills_group(self, group: int) -> bool:
        """One more loose bucket would make ``group`` dense (asked on a bucket's first
        count: at most once a bucket per label set, so the scan of a group costs little)."""
        loose = self._loose
        if len(loose) + 1 < self._dense_at:
            return False
        start = group * self._width
        held = sum(1 for b in range(start, start + self._width) if b in loose)
        return held + 1 >= self._dense_at

    def _make_dense(self, group: int) -> array[int] | list[int]:
        """Moves ``group``'s loose buckets into an array (a list if one is too big)."""
        start = group * self._width
        counts: array[int] | list[int] = array("q", bytes(8 * self._width))  # all 0
        for bucket in range(start, start + self._width):
            n = self._loose.pop(bucket, 0)
            if n:
                try:
                    counts[bucket - start] = n
                except OverflowError:
                    counts = list(counts)
                    counts[bucket - start] = n
        self._groups[group] = counts
        self._oldest = min(self._oldest, start)
        return counts

    def sum_between(self, first: int, end: int) -> int:
        """Sum of the counts of buckets ``first`` <= bucket < ``end``."""
        width = self._width
        total = 0
        for group in range(first // width, (end - 1) // width + 1):
            start = group * width
            counts = self._groups.get(group)
            if counts is not None:
                total += sum(counts[max(first - start, 0) : min(end - start, width)])
            elif self._loose:
                total += _sum_between(self._loose, max(first, start), min(end, start + width))
        return total

    def drop_before(self, bucket: int) -> list[tuple[int, int]]:
        """Drops the buckets before ``bucket``; returns them, with their counts."""
        if bucket <= self._oldest:
            return []
        loose = self._loose
        dropped = [(b, n) for b, n in loose.items() if b < bucket]
        for b, _ in dropped:
            del loose[b]
        first_group, at = divmod(bucket, self._width)
        for group in [g for g in self._groups if g < first_group]:
            start = group * self._width
            dropped.extend((start + i, n) for i, n in enumerate(self._groups.pop(group)) if n)
        counts = self._groups.get(first_group)
        if counts is not None:
            start = first_group * self._width
            for i in range(at):
                if counts[i]:
                    dropped.append((start + i, counts[i]))
                    counts[i] = 0
        self._filled -= len(dropped)
        # Every bucket left is at ``bucket`` or later: the next prunes before it skip.
        oldest_group = min(self._groups, default=None)
        self._oldest = max(
            bucket,
            min(
                min(loose, default=_NO_BUCKET),
                _NO_BUCKET if oldest_group is None else oldest_group * self._width,
            ),
        )
        return dropped

    def items(self) -> Iterator[tuple[int, int]]:
        """(bucket, count) of every bucket whose count is not 0: loose, then by group."""
        yield from self._loose.items()
        for group, counts in self._groups.items():
            start = group * self._width
            for i, n in enumerate(counts):
                if n:
                    yield start + i, n

    def values(self) -> Iterator[int]:
        return (n for _, n in self.items())

    def nbytes(self) -> int:
        """Python's own size of what this holds: its dicts, their keys, counts and arrays
        (a list group's ints too)."""
        size = sys.getsizeof(self._loose) + sys.getsizeof(self._groups)
        size += sum(sys.getsizeof(b) + sys.getsizeof(n) for b, n in self._loose.items())
        for group, counts in self._groups.items():
            size += sys.getsizeof(group) + sys.getsizeof(counts)
            if isinstance(counts, list):
                size += sum(sys.getsizeof(n) for n in counts)
        return size


def minute_buckets() -> Buckets:
    """A histogram's minutes, in arrays by hour."""
    return Buckets(MINUTES_PER_HOUR, MINUTES_DENSE_AT)


def hour_buckets() -> Buckets:
    """A histogram's hours, in arrays by day (a day row's 24 hours)."""
    return Buckets(HOURS_PER_DAY, HOURS_DENSE_AT)


@dataclass(slots=True)
class BucketHistogram:
    minutes: Buckets = field(default_factory=minute_buckets)
    hours: Buckets = field(default_factory=hour_buckets)
    days: dict[int, int] = field(default_factory=dict)  # a day's hours summed: 92 at most

    def add_minute(self, minute: int, n: int) -> None:
        self.minutes.add(minute, n)

    def add_hour(self, hour: int, n: int) -> None:
        self.hours.add(hour, n)
        _bump(self.days, hour // HOURS_PER_DAY, n)

    def since_minute(self, first: int, last_hour: int) -> int:
        """Sum of buckets from minute ``first`` on (``last_hour``: newest hour to read)."""
        hour = first // MINUTES_PER_HOUR
        total = self.minutes.sum_between(first, (hour + 1) * MINUTES_PER_HOUR)
        return total + self.hours.sum_between(hour + 1, last_hour + 1)

    def since_hour(self, first: int, last_hour: int) -> int:
        day = first // HOURS_PER_DAY
        total = self.hours.sum_between(first, (day + 1) * HOURS_PER_DAY)
        return total + _sum_between(self.days, day + 1, last_hour // HOURS_PER_DAY + 1)

    def drop_minutes_before(self, minute: int) -> None:
        self.minutes.drop_before(minute)

    def drop_hours_before(self, hour: int) -> None:
        for dropped, count in self.hours.drop_before(hour):
            _bump(self.days, dropped // HOURS_PER_DAY, -count)


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
