"""What one ``make bench`` run measures: its sizes, settings and the streams it prepares.

The stream is generated once and produced in three message shapes (1, 10 and
100 events per message) to its own topics; the limits read the same messages
repeated, from topics of their own.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import report, throughput
from bench.expect import Expectation, expect
from bench.kafka_io import produce
from bench.streams import Variant, base_stream, regroup
from tracker.kafka.broker import ensure_topics

PARTITIONS = 8
SEED = 7
# The live 1-event run: short enough timings to watch the idle rule close the last sessions.
LIVE_SETTINGS = {
    "TRACKER_SESSION_GAP": "30",
    "TRACKER_MAX_OUT_OF_ORDER": "2",
    "TRACKER_IDLE_TIMEOUT": "5",
}


@dataclass(frozen=True, slots=True)
class Sizes:
    single_events: int  # 1-event messages (Faust's per-message cost makes these slow)
    batched_events: int  # the same generated events, regrouped into 10- and 100-event batches
    latency_seconds: float
    state_customers: tuple[int, ...]
    traced_customers: tuple[int, ...]  # sizes measured with tracemalloc as well
    limit_messages: dict[int, int]  # the limits read the messages repeated up to this many

    @classmethod
    def full(cls) -> Sizes:
        limits = {1: 200_000, 10: 60_000, 100: 20_000}
        return cls(60_000, 300_000, 40.0, (100_000, 1_000_000), (100_000,), limits)

    @classmethod
    def quick(cls) -> Sizes:
        limits = {1: 60_000, 10: 20_000, 100: 5_000}
        # Enough that a worker drains each stream over tens of progress readings.
        return cls(30_000, 150_000, 20.0, (100_000,), (100_000,), limits)


@dataclass
class Streams:
    """The variants, each with its expected counters, its topic and its limits topic."""

    variants: list[Variant]
    now_ms: int
    expectations: dict[str, Expectation] = field(default_factory=dict)
    topics: dict[str, str] = field(default_factory=dict)
    limit_topics: dict[str, tuple[str, Variant]] = field(default_factory=dict)


def log(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def topic_of(bootstrap: str, name: str, variant: Variant) -> str:
    ensure_topics(bootstrap, [(name, PARTITIONS, {})])
    produce(bootstrap, name, variant.messages, PARTITIONS)
    return name


def prepare(
    bootstrap: str, bench: throughput.Bench, rep: report.Report, sizes: Sizes, root: Path
) -> Streams:
    """Generate the stream, compute what every shape must count, and produce the topics."""
    env = bench.env("-", "-", 0, root)
    now_ms = int(time.time() * 1000)
    base = base_stream(SEED, sizes.batched_events, now_ms - 3 * 3_600_000)
    streams = Streams(
        [
            Variant("1 event", 1, base[: sizes.single_events]),
            Variant("10 events", 10, regroup(base, 10)),
            Variant("100 events", 100, regroup(base, 100)),
        ],
        now_ms,
    )
    for variant in streams.variants:
        expectation = expect(variant.messages, env, PARTITIONS)
        streams.expectations[variant.name] = expectation
        rep.pure.append(
            (
                variant.name,
                variant.events / expectation.pure_seconds,
                len(variant.messages) / expectation.pure_seconds,
            )
        )
        streams.topics[variant.name] = topic_of(
            bootstrap, f"bench-{variant.batch}-{now_ms}", variant
        )
        # The limits drain the same messages, repeated: long enough to measure.
        times = max(1, math.ceil(sizes.limit_messages[variant.batch] / len(variant.messages)))
        repeated = Variant(variant.name, variant.batch, variant.messages * times)
        streams.limit_topics[variant.name] = (
            topic_of(bootstrap, f"bench-limits-{variant.batch}-{now_ms}", repeated),
            repeated,
        )
        log(
            f"{variant.name}: {variant.events:,} events in {len(variant.messages):,} messages "
            f"(mean {variant.mean_batch:.1f}/message, {variant.bytes / 1e6:.0f} MB); "
            f"pure pipeline {rep.pure[-1][1]:,.0f} events/s"
        )
    return streams


@dataclass
class Context:
    """One run's shared pieces, handed to every step."""

    bench: throughput.Bench
    rep: report.Report
    sizes: Sizes
    streams: Streams
    bootstrap: str
    skip: set[str]
    repeat: int  # runs of the main rows; the median is reported
    profiles: Path | None  # where py-spy profiles go, with --profile

    def wanted(self, step: str) -> bool:
        return step not in self.skip
