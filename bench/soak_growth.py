"""What the state holds as the soak's traffic goes on: which part of a worker's memory grows.

The soak (``bench/soak.py``) measures a worker's resident memory, which says whether it
grows but not what grows. This replays the same traffic (``bench.soak_traffic``: a
population whose customers rest between visits, with the soak's session gap and dedup
window) through the pure ``PartitionProcessor``s over plain dict stores, on simulated
event time, and every few minutes of event time reports what the state holds:

- customer rows, which stop growing once the population has been seen, its sessions
  close between visits and its de-duplication memories have reached their usual size
  (order times, up to 16 a customer, and support tickets, kept 30 days after their last
  event, still grow through the hour, by design);
- aggregate rows and their histograms: per partition, a minute row for each hour of event
  time (its minute buckets kept for 50 hours) and an hour row for each day (kept for 92
  days), so they grow with every minute by design until the oldest are dropped;
- the process in all (resident memory, or with ``--tracemalloc`` the Python heap traced
  since the start, ~2x slower), which also holds what neither row kind shows, and the
  traffic generator's own memory: its journeys still waiting for support's replies and
  the B2B customers it has made up.

The account stage is not replayed (its activity records are dropped, as in
``bench.state``). In-process, about 4,000 events/s here without tracing, so the soak's
rate (70% of a worker's drain, 3,700-8,700 events/s) would take hours to replay an hour
of. The default replays an hour at 600 events/s (a population of ~12,000: the soak's
scaled by its rate). About 10 minutes, rows printed as they are measured:

    python -m bench.soak_growth [--minutes 60] [--rate 600] [--every 5]

and where the growth was allocated, line by line in the core's source (slower still):

    TRACKER_CORE=source python -m bench.soak_growth --tracemalloc --lines 20
"""

from __future__ import annotations

import argparse
import gc
import sys
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass

import psutil

from bench.soak import DEDUP_WINDOW_S, REST_MS, SESSION_GAP_S
from bench.soak_traffic import SoakTraffic
from bench.state import PARTITIONS, RowStore, hand_over, housekeeping, pipeline_config
from tracker.core.histogram import MINUTE_HORIZON
from tracker.core.partition import PartitionProcessor
from tracker.kafka.partitioner import partition_for
from tracker.stream.memory_report import ROW_KINDS, row_kind

START_MS = 1_780_000_000_000
STEP_MS = 100  # the soak producer's step
FLUSH_EVERY_STEPS = 10  # the worker's flush timer: once a second


@dataclass(frozen=True)
class Checkpoint:
    minute: float
    events: int
    population: int  # customers the traffic has needed so far
    customer_rows: int
    customer_bytes: int
    minute_rows: int
    minute_bytes: int
    other_aggregate_bytes: int  # the counter row, the hour rows and the rest
    histogram_minutes: int  # minute entries over every partition's histograms
    memory_bytes: int  # resident memory, or the traced Python heap (``trace``)


def bytes_by_kind(stores: dict[int, RowStore]) -> tuple[int, int, int, int, int]:
    """(customer rows, their bytes, minute rows, their bytes, other aggregate bytes)."""
    rows = dict.fromkeys(ROW_KINDS, 0)
    sizes = dict.fromkeys(ROW_KINDS, 0)
    for store in stores.values():
        for key, value in store.rows.items():
            kind = row_kind(key.encode())  # as the worker's /debug/memory tells them apart
            rows[kind] += 1
            sizes[kind] += len(key) + len(value)
    return rows["customer"], sizes["customer"], rows["minute"], sizes["minute"], sizes["other"]


def histogram_minutes(processors: dict[int, PartitionProcessor]) -> int:
    return sum(
        len(hist.minutes) for p in processors.values() for hist in p.aggregates.hists.values()
    )


def run(
    minutes: float,
    rate: float,
    every: float,
    trace: bool = False,
    snapshots: list[tracemalloc.Snapshot] | None = None,
) -> Iterator[Checkpoint]:
    """``minutes`` of event time of the soak's traffic at ``rate`` events/s; a checkpoint
    every ``every`` minutes. Traced, a heap snapshot is added to ``snapshots`` at each."""
    config = pipeline_config(session_gap=SESSION_GAP_S, dedup_window=DEDUP_WINDOW_S)
    stores = {p: RowStore() for p in range(PARTITIONS)}
    processors = {p: config.processor(p, stores[p], PARTITIONS) for p in range(PARTITIONS)}
    offsets = dict.fromkeys(processors, -1)
    traffic = SoakTraffic(rate, REST_MS)
    gc.collect()
    if trace:
        tracemalloc.start()
    events, step = 0, 0
    next_checkpoint = every
    while True:
        now = START_MS + step * STEP_MS
        for message in traffic.due(now):
            partition = partition_for(message.key, PARTITIONS)
            offsets[partition] += 1
            processors[partition].process(
                message.key, message.value, offsets[partition], message.timestamp_ms, now
            )
            hand_over(processors, processors[partition])
            events += message.events
        step += 1
        if step % FLUSH_EVERY_STEPS == 0:
            housekeeping(processors, now)
        elapsed = step * STEP_MS / 60_000
        if elapsed >= next_checkpoint or elapsed >= minutes:
            gc.collect()
            memory = (
                tracemalloc.get_traced_memory()[0] if trace else psutil.Process().memory_info().rss
            )
            if trace and snapshots is not None:
                snapshots.append(tracemalloc.take_snapshot())
            kinds = bytes_by_kind(stores)
            yield Checkpoint(
                elapsed,
                events,
                traffic.population.members,
                *kinds,
                histogram_minutes(processors),
                memory,
            )
            next_checkpoint += every
            if elapsed >= minutes:
                break
    if trace:
        tracemalloc.stop()


HEADER = (
    "| event-time minute | events | population | customer rows | customer rows MiB | minute rows "
    "| minute rows MiB | other aggregate rows MiB | histogram minutes | {memory} MiB |\n"
    "|---|---|---|---|---|---|---|---|---|---|"
)


def row(p: Checkpoint) -> str:
    mib = 2**20
    return (
        f"| {p.minute:g} | {p.events:,} | {p.population:,} | {p.customer_rows:,} "
        f"| {p.customer_bytes / mib:.1f} | {p.minute_rows:,} | {p.minute_bytes / mib:.2f} "
        f"| {p.other_aggregate_bytes / mib:.2f} | {p.histogram_minutes:,} "
        f"| {p.memory_bytes / mib:.1f} |"
    )


def report(points: list[Checkpoint], memory: str = "RSS") -> str:
    lines = [HEADER.format(memory=memory), *map(row, points), "", second_half(points, memory)]
    return "\n".join(lines)


def middle_index(points: list[Checkpoint]) -> int:
    """The checkpoint nearest half-way to the last (the first of two as near)."""
    return min(range(len(points)), key=lambda i: abs(points[i].minute - points[-1].minute / 2))


def second_half(points: list[Checkpoint], memory: str = "RSS") -> str:
    """Growth over the second half, by kind, and the minute rows' share at their horizon."""
    last = points[-1]
    middle = points[middle_index(points)]
    mib = 2**20

    def grew(attr: str) -> float:
        return float(getattr(last, attr) - getattr(middle, attr)) / mib

    # Minute rows are one per partition and hour of event time (aggregates.minute_row).
    per_minute = (last.minute_bytes - middle.minute_bytes) / max(1.0, last.minute - middle.minute)
    entries = (last.histogram_minutes - middle.histogram_minutes) / max(
        1.0, last.minute - middle.minute
    )
    return (
        f"From minute {middle.minute:g} to {last.minute:g}: {memory} grew "
        f"{grew('memory_bytes'):+.1f} MiB ({grew('memory_bytes') * mib / middle.memory_bytes:+.1%}); "
        f"customer rows {grew('customer_bytes'):+.1f} MiB, minute rows "
        f"{grew('minute_bytes'):+.2f} MiB, other aggregate rows "
        f"{grew('other_aggregate_bytes'):+.2f} MiB. Minute rows hold ~{per_minute / 1024:.0f} KiB "
        f"more per minute of event time over {PARTITIONS} partitions, and the histograms "
        f"{entries:,.0f} more minute entries; at their {MINUTE_HORIZON // 60} h horizon that is "
        f"~{per_minute * MINUTE_HORIZON / mib:.0f} MiB of rows and "
        f"{entries * MINUTE_HORIZON:,.0f} entries."
    )


def growing_lines(first: tracemalloc.Snapshot, last: tracemalloc.Snapshot, top: int) -> str:
    """The source lines whose live allocations grew most from ``first`` to ``last``.

    A line is where the memory was allocated, in Python source: run with
    ``TRACKER_CORE=source`` to see lines of ``tracker/core`` rather than their callers.
    """
    grown = [s for s in last.compare_to(first, "lineno") if s.size_diff > 0]
    grown.sort(key=lambda s: s.size_diff, reverse=True)  # compare_to ranks by |difference|
    return "\n".join(
        f"{s.size_diff / 2**20:+8.2f} MiB {s.count_diff:+9,d} blocks  {s.traceback[0]}"
        for s in grown[:top]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=60.0, help="of event time")
    parser.add_argument("--rate", type=float, default=600.0, help="events/s of event time")
    parser.add_argument("--every", type=float, default=5.0, help="minutes between checkpoints")
    parser.add_argument("--tracemalloc", action="store_true", help="the traced heap, not RSS")
    parser.add_argument(
        "--lines",
        type=int,
        default=0,
        metavar="N",
        help="with --tracemalloc: the N lines whose memory grew most over the second half",
    )
    args = parser.parse_args(argv)
    if args.lines and not args.tracemalloc:
        parser.error("--lines needs --tracemalloc: the lines come from the traced heap")
    memory = "Python heap (traced)" if args.tracemalloc else "RSS"
    print(HEADER.format(memory=memory), flush=True)
    points: list[Checkpoint] = []
    # A snapshot per checkpoint (~100 MB each at the defaults): which is the middle one is
    # known only once the last is.
    snapshots: list[tracemalloc.Snapshot] = []
    kept = snapshots if args.lines else None
    for point in run(args.minutes, args.rate, args.every, args.tracemalloc, kept):
        points.append(point)
        print(row(point), flush=True)
    print(f"\n{second_half(points, memory)}", file=sys.stdout)
    if snapshots:
        middle = middle_index(points)
        print(f"\nGrown most from minute {points[middle].minute:g} to {points[-1].minute:g}:")
        print(growing_lines(snapshots[middle], snapshots[-1], args.lines))


if __name__ == "__main__":
    main()
