"""What a worker's memory holds, part by part: ``GET /debug/memory`` (docs/operations.md#memory).

Resident memory says that a worker grows, not what grows. Much of what it holds grows
on purpose for hours or days after a start: minute buckets are kept for 50 hours and
hour buckets for 92 days (``core.histogram``), support tickets for 30 days after their
last event, up to 16 order times a customer, and the pseudonym cache fills towards its
bound as new ids arrive. This counts those parts on request, so that their growth can
be told from a leak: a part that explains the growth of RSS, or none that does.

- ``tables``: each Faust table's rows in memory, by kind of key (a customer's row, an
  aggregate minute row, the rest), counted and sized, and its ``index``: the dicts
  that hold them (the rows' own and Faust's key-to-partition map), which grow with
  the rows;
- ``histograms``: the event-time buckets of the active partitions (minutes; hours,
  with the days they sum to);
- ``decoded_rows``: rows kept decoded between messages (``core.row_cache``);
- ``pseudonyms``: the pseudonym cache's entries and bound;
- ``allocator``: what the allocators hold, to tell live data from their slack: glibc
  malloc's bytes in use, free inside its heaps, and in chunks of their own
  (``mallinfo2``; null on other C libraries), and pymalloc's live blocks (objects of
  up to 512 bytes; its arenas are its own mappings, so their free space shows in
  neither figure). Grown RSS with malloc's free bytes grown is fragmentation, not data;
- ``gc``: objects the garbage collector tracks, and those frozen at start-up
  (``tracker.heap``), only when asked (``?gc=1``): counting them lists every one.

Sizes are Python's own (``sys.getsizeof`` of each key, value and container), without
allocator overhead. Counting walks every row, ~0.4 s per million (measured here), while the
worker processes nothing: a tool for an operator or a soak, not for every scrape, and
asked again within ``FRESH_FOR_S`` it answers its last count (``Throttle``).
"""

from __future__ import annotations

import ctypes
import gc
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tracker.core.histogram import BucketHistogram
from tracker.core.partition import PartitionProcessor

ROW_KINDS = ("customer", "minute", "other")
EMPTY_BYTES = sys.getsizeof(b"")  # a bytes object's size less its length
FRESH_FOR_S = 10.0  # a port anyone can reach must not be able to stall the worker


@dataclass(frozen=True)
class TableView:
    rows: Mapping[bytes, bytes]
    index: Sequence[object] = ()  # the containers of the rows: their dict, Faust's maps


def row_kind(key: bytes) -> str:
    """``P/c/PSEUDONYM``: a customer's row; ``P/a/m/MINUTE``: an aggregate minute row."""
    if b"/c/" in key:
        return "customer"
    if b"/a/m/" in key:
        return "minute"
    return "other"


def table_rows(rows: Mapping[bytes, bytes]) -> dict[str, dict[str, int]]:
    """Rows and their bytes (each key and value object) by kind.

    Customers' rows are nearly all of a table: all rows are summed at C speed and the
    few others, found by one pass over the keys, are sized one by one.
    """
    total = sum(map(len, rows)) + sum(map(len, rows.values())) + 2 * EMPTY_BYTES * len(rows)
    parts = {kind: {"rows": 0, "bytes": 0} for kind in ROW_KINDS}
    for key in [key for key in rows if b"/c/" not in key]:
        part = parts[row_kind(key)]
        part["rows"] += 1
        part["bytes"] += sys.getsizeof(key) + sys.getsizeof(rows[key])
    parts["customer"]["rows"] = len(rows) - parts["minute"]["rows"] - parts["other"]["rows"]
    parts["customer"]["bytes"] = total - parts["minute"]["bytes"] - parts["other"]["bytes"]
    return parts


def table_memory(table: TableView) -> dict[str, dict[str, int]]:
    """A table's rows by kind, and its index: the containers holding them."""
    parts = table_rows(table.rows)
    parts["index"] = {"bytes": sum(sys.getsizeof(c) for c in (table.rows, *table.index))}
    return parts


def histogram_buckets(histograms: Iterable[BucketHistogram]) -> dict[str, int]:
    """Minute and hour (with day) buckets, and their bytes: arrays, dicts, int objects."""
    minutes = hours = size = 0
    for hist in histograms:
        minutes += len(hist.minutes)
        hours += len(hist.hours) + len(hist.days)
        size += hist.minutes.nbytes() + hist.hours.nbytes() + sys.getsizeof(hist.days)
        size += sum(sys.getsizeof(k) + sys.getsizeof(v) for k, v in hist.days.items())
    return {"minutes": minutes, "hours": hours, "bytes": size}


def memory_report(
    tables: Mapping[str, TableView],
    processors: Mapping[int, PartitionProcessor],
    rss_bytes: int | None = None,
    count_objects: bool = False,
) -> dict[str, Any]:
    """The parts of a worker's memory; ``tables``: each table by name;
    ``count_objects``: also the objects the garbage collector tracks (lists them all)."""
    hists = [h for p in processors.values() for h in p.aggregates.hists.values()]
    pseudonyms = {"entries": 0, "bound": 0}
    first = next(iter(processors.values()), None)  # one cache, shared by every partition
    if first is not None:
        info = first.pseudonyms.of.cache_info()
        pseudonyms = {"entries": info.currsize, "bound": info.maxsize or 0}
    report = {
        "rss_bytes": rss_bytes,
        "tables": {name: table_memory(table) for name, table in tables.items()},
        "histograms": histogram_buckets(hists),
        "decoded_rows": sum(len(p.decoded) for p in processors.values()),
        "pseudonyms": pseudonyms,
        "allocator": {"malloc": malloc_info(), "pymalloc_blocks": sys.getallocatedblocks()},
    }
    if count_objects:
        report["gc"] = {"tracked": len(gc.get_objects()), "frozen": gc.get_freeze_count()}
    return report


class MallInfo2(ctypes.Structure):
    """glibc's ``struct mallinfo2`` (2.33 and later), every field a ``size_t``."""

    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd",
            "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost",
        )
    ]  # fmt: skip


def _mallinfo2() -> Callable[[], MallInfo2] | None:
    try:  # the process's own symbols, libc's among them (no ldconfig run to find it)
        function = ctypes.CDLL(None).mallinfo2
    except (OSError, AttributeError):  # not glibc, or older than 2.33
        return None
    function.restype = MallInfo2
    function.argtypes = []
    return function


MALLINFO2 = _mallinfo2()


def malloc_info() -> dict[str, int] | None:
    """glibc malloc's bytes: ``in_use`` by the process, ``free`` inside its heaps (kept,
    not returned to the system), ``mapped``: chunks mmapped on their own."""
    if MALLINFO2 is None:
        return None
    info = MALLINFO2()
    return {"in_use": info.uordblks, "free": info.fordblks, "mapped": info.hblkhd}


@dataclass
class Throttle:
    """At most one count per ``fresh_for_s``: asked again sooner, the last one, aged."""

    fresh_for_s: float = FRESH_FOR_S
    _last: tuple[float, dict[str, Any]] | None = field(default=None, repr=False)

    def answer(
        self,
        now_s: float,
        count: Callable[[], dict[str, Any]],
        clock: Callable[[], float] | None = None,
    ) -> dict[str, Any]:
        """``now_s``: a monotonic clock's reading; ``count``: takes a new count;
        ``clock``: that clock, for a count that takes long enough that its freshness must
        run from its end, or asks queued behind it would each start another."""
        if self._last is None or now_s - self._last[0] >= self.fresh_for_s:
            report = count()
            self._last = (clock() if clock is not None else now_s, report)
            now_s = max(now_s, self._last[0])
        taken_s, report = self._last
        return {**report, "age_s": round(now_s - taken_s, 3)}


def resident_bytes() -> int | None:
    """This process's resident set, from ``/proc`` (None where there is none)."""
    try:
        pages = int(Path("/proc/self/statm").read_text(encoding="ascii").split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


def sized_parts(report: Mapping[str, Any]) -> dict[str, int]:
    """A report's sized parts by name (``"TABLE KIND rows"``, ``"TABLE index"``,
    ``"histograms"``), in bytes."""
    sizes = {
        f"{table} {kind}" if kind == "index" else f"{table} {kind} rows": part["bytes"]
        for table, kinds in report["tables"].items()
        for kind, part in kinds.items()
    }
    sizes["histograms"] = report["histograms"]["bytes"]
    return sizes
