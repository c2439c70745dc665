"""A partition's aggregates and the deltas that change them, with their persistence.

Why deltas: Faust is at-least-once and writes its changelog ahead of the
committed offset, so after a crash some input is processed again. Every
state row written for an input message carries the offset it has applied
(to skip it on replay) and the aggregate *delta* of the current flush epoch.
Aggregate rows are written once per epoch with the epoch they include. On
recovery a row's delta is added to exactly those aggregate rows whose epoch
is older than the row's epoch: each change lands once, whatever prefix of
the changelog survived the crash (writes of one partition are ordered).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

import orjson

from tracker.core.counter_codes import SEP as SEP  # counter keys' separator, with the codes
from tracker.core.counter_codes import decode_counters, encode_counters
from tracker.core.histogram import HOUR_HORIZON, MINUTE_HORIZON, BucketHistogram, minute_of

COUNTER_ROW = "c"


_INT64: Final = 2**63  # Final: compiled, a constant, not a lookup by name for each bucket


def wire_int(n: int) -> int | str:
    """An int as JSON can carry it: beyond 64 bits (revenue sums in millionths) as text.

    orjson refuses integers outside 64 bits; Python's are unbounded, and ``int()`` reads
    either form back, so no sum overflows however many orders add up.
    """
    return n if -_INT64 <= n < _INT64 else str(n)


def counter_key(metric: str, *labels: str) -> str:
    return SEP.join((metric, *labels))


def minute_row(minute: int) -> str:
    return f"m/{minute // 60}"


def hour_row(minute: int) -> str:
    return f"h/{minute // 1440}"


@dataclass(slots=True, init=False)
class Delta:
    """What one or more events changed in the partition's aggregates."""

    counters: dict[str, int]
    revenue: dict[str, Decimal]
    buckets: dict[tuple[str, int], int]
    max_event_ms: int

    # Written out, not generated: mypyc compiles a method of the class, but the ``__init__``
    # that ``dataclass`` generates stays interpreted, with a call for each default factory,
    # and a Delta is built several times per message.
    def __init__(
        self,
        counters: dict[str, int] | None = None,
        revenue: dict[str, Decimal] | None = None,
        buckets: dict[tuple[str, int], int] | None = None,
        max_event_ms: int = 0,
    ) -> None:
        self.counters = {} if counters is None else counters
        self.revenue = {} if revenue is None else revenue
        self.buckets = {} if buckets is None else buckets
        self.max_event_ms = max_event_ms

    def count(self, key: str, n: int = 1) -> None:
        self.counters[key] = self.counters.get(key, 0) + n

    def bucket(self, name: str, minute: int, n: int) -> None:
        if not n:
            return  # a zero-amount order adds nothing to its revenue bucket
        # ``Any``: compiled, a ``tuple[str, int]`` is a C struct, boxed into a new tuple for
        # each use as a key (two per call); as an object it is built once.
        k: Any = (name, minute)
        self._add_bucket(k, n)

    def _add_bucket(self, k: Any, n: int) -> None:
        """``bucket`` by the key itself, once ``n`` is known not to be 0."""
        buckets = self.buckets
        value = buckets.get(k, 0) + n
        if value:
            buckets[k] = value
        else:
            del buckets[k]

    def mark(self, name: str, previous_ms: int, minute: int) -> None:
        """A customer's mark in ``name`` (reach) moving to ``minute`` from the minute of
        ``previous_ms`` (-1: none): ``bucket`` -1 there, then +1 here; mostly one minute."""
        if previous_ms < 0:
            self.bucket(name, minute, 1)
            return
        old = minute_of(previous_ms)
        if old != minute:
            self.bucket(name, old, -1)
            self.bucket(name, minute, 1)
            return
        # Within a minute the two cancel, but an entry of exactly 1 was deleted by the first
        # and added back last by the second: its new place in the dict is kept, as rows are
        # written in the dict's order.
        k: Any = (name, minute)
        buckets = self.buckets
        if buckets.get(k, 0) == 1:
            del buckets[k]
            buckets[k] = 1

    def add_revenue(self, currency: str, amount: Decimal) -> None:
        self.revenue[currency] = self.revenue.get(currency, Decimal(0)) + amount

    def merge(self, other: Delta) -> None:
        for key, n in other.counters.items():
            self.count(key, n)
        for cur, amount in other.revenue.items():
            self.add_revenue(cur, amount)
        # Keys as the objects they are (``bucket``): not unpacked and boxed anew for each.
        buckets: dict[Any, int] = other.buckets
        for k, n in buckets.items():
            if n:
                self._add_bucket(k, n)
        self.max_event_ms = max(self.max_event_ms, other.max_event_ms)

    def copy(self) -> Delta:
        """``Delta()`` merged with this one, by copying its dicts whole where that is equal:
        counters and buckets are then in the same order with the same values."""
        buckets = self.buckets
        if 0 in buckets.values():  # none held (``bucket`` deletes them); merge would skip it
            buckets = {k: n for k, n in buckets.items() if n}
        copied = Delta(dict(self.counters), None, dict(buckets), max(0, self.max_event_ms))
        for cur, amount in self.revenue.items():
            copied.add_revenue(cur, amount)  # Decimal(0) + amount: its exponent may change
        return copied

    def is_empty(self) -> bool:
        return not (self.counters or self.revenue or self.buckets) and not self.max_event_ms

    def to_json(self) -> dict[str, Any]:
        return {
            "c": encode_counters(self.counters),
            "r": {k: str(v) for k, v in self.revenue.items()},
            "b": [[name, minute, wire_int(n)] for (name, minute), n in self.buckets.items()],
            "x": self.max_event_ms,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Delta:
        return cls(
            counters=decode_counters(data.get("c", {})),
            revenue={k: Decimal(v) for k, v in data.get("r", {}).items()},
            buckets={(b[0], b[1]): int(b[2]) for b in data.get("b", [])},
            max_event_ms=int(data.get("x", 0)),
        )


@dataclass(slots=True)
class Aggregates:
    """Counters, revenue, event-time histograms and the watermark of one partition."""

    counters: dict[str, int] = field(default_factory=dict)
    revenue: dict[str, Decimal] = field(default_factory=dict)
    hists: dict[str, BucketHistogram] = field(default_factory=dict)
    max_event_ms: int = 0
    idle_floor_ms: int = 0
    applied_offset: int = -1  # the newest input offset whose effects are included
    identity_offset: int = -1  # likewise of the identity topic (tracker.core.identity_stage)
    timer_offset: int = -1  # the newest housekeeping step that made identity records
    row_epochs: dict[str, int] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)
    newest_minute: int = 0

    # --- live updates ---------------------------------------------------------
    def apply(self, delta: Delta, *, only_rows_before_epoch: int | None = None) -> None:
        """Add a delta; in recovery only to rows that do not include it yet."""
        epochs = self.row_epochs
        before = only_rows_before_epoch

        def wanted(row: str) -> bool:
            return before is None or epochs.get(row, -1) < before

        dirty = self.dirty
        if wanted(COUNTER_ROW):
            counters = self.counters
            for key, n in delta.counters.items():
                counters[key] = counters.get(key, 0) + n
            for cur, amount in delta.revenue.items():
                self.revenue[cur] = self.revenue.get(cur, Decimal(0)) + amount
            if delta.counters or delta.revenue:
                dirty.add(COUNTER_ROW)
        if delta.max_event_ms > self.max_event_ms:
            self.max_event_ms = delta.max_event_ms
            dirty.add(COUNTER_ROW)
        if not delta.buckets:
            return
        # Both floors depend on the watermark only, which the loop leaves alone.
        floor, hour_floor = self.minute_floor(), self.hour_floor()
        hists = self.hists
        newest = self.newest_minute
        for (name, minute), n in delta.buckets.items():
            hist = hists.get(name)
            if hist is None:
                hist = hists[name] = BucketHistogram()
            if minute >= floor:
                row = minute_row(minute)
                if wanted(row):
                    hist.add_minute(minute, n)
                    dirty.add(row)
            hour = minute // 60
            if hour >= hour_floor:
                row = hour_row(minute)
                if wanted(row):
                    hist.add_hour(hour, n)
                    dirty.add(row)
            if minute > newest:
                newest = minute
        self.newest_minute = newest

    def minute_floor(self) -> int:
        return self.watermark_minute() - MINUTE_HORIZON

    def hour_floor(self) -> int:
        return self.watermark_minute() // 60 - HOUR_HORIZON

    def watermark_minute(self) -> int:
        return max(self.max_event_ms, self.idle_floor_ms) // 60_000

    def counter(self, key: str) -> int:
        return self.counters.get(key, 0)

    # --- persistence ------------------------------------------------------------
    def take_dirty_rows(self, epoch: int) -> Iterator[tuple[str, bytes | None]]:
        """Rows to write at the end of ``epoch`` (None: delete the row)."""
        self._prune()
        for row in sorted(self.dirty):
            self.row_epochs[row] = epoch
            body = self._row_body(row)
            if body is None:
                self.row_epochs.pop(row, None)
                yield row, None
            else:
                body["e"] = epoch
                yield row, orjson.dumps(body)
        self.dirty.clear()

    def load_row(self, row: str, raw: bytes) -> None:
        body = orjson.loads(raw)
        self.row_epochs[row] = int(body["e"])
        if row == COUNTER_ROW:
            self.counters = decode_counters(body["c"])
            self.revenue = {k: Decimal(v) for k, v in body["r"].items()}
            self.max_event_ms = max(self.max_event_ms, int(body["x"]))
            self.idle_floor_ms = max(self.idle_floor_ms, int(body["i"]))
            self.applied_offset = max(self.applied_offset, int(body["o"]))
            self.identity_offset = max(self.identity_offset, int(body.get("io", -1)))
            self.timer_offset = max(self.timer_offset, int(body.get("to", -1)))
            return
        minute_level = row.startswith("m/")
        for name, bucket, value in body["v"]:
            n = int(value)
            hist = self.hists.get(name)
            if hist is None:
                hist = self.hists[name] = BucketHistogram()
            if minute_level:
                hist.add_minute(bucket, n)
                self.newest_minute = max(self.newest_minute, bucket)
            else:
                hist.add_hour(bucket, n)

    def _row_body(self, row: str) -> dict[str, Any] | None:
        if row == COUNTER_ROW:
            return {
                "c": encode_counters(self.counters),
                "r": {k: str(v) for k, v in self.revenue.items()},
                "x": self.max_event_ms,
                "i": self.idle_floor_ms,
                "o": self.applied_offset,
                "io": self.identity_offset,
                "to": self.timer_offset,
            }
        kind, _, number = row.partition("/")
        index = int(number)
        entries: list[list[Any]] = []
        if kind == "m":
            for name, hist in self.hists.items():
                entries.extend([name, m, wire_int(n)] for m, n in hist.minutes.group(index))
        else:
            for name, hist in self.hists.items():
                entries.extend([name, h, wire_int(n)] for h, n in hist.hours.group(index))
        # A row that empties inside the horizon is kept (with its epoch): deleting it
        # would let recovery add an older row's delta to it a second time.
        return {"v": entries} if entries or not self._beyond_horizon(row) else None

    def _beyond_horizon(self, row: str) -> bool:
        """Every bucket of the row is older than the horizon: recovery skips them all."""
        kind, _, number = row.partition("/")
        return (kind == "m" and (int(number) + 1) * 60 <= self.minute_floor()) or (
            kind == "h" and (int(number) + 1) * 24 <= self.hour_floor()
        )

    def _prune(self) -> None:
        minute_floor, hour_floor = self.minute_floor(), self.hour_floor()
        for hist in self.hists.values():
            hist.drop_minutes_before(minute_floor)
            hist.drop_hours_before(hour_floor)
        for row in list(self.row_epochs):
            if self._beyond_horizon(row):
                self.dirty.add(row)
