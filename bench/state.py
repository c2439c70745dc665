"""State per open session and per customer in the reach windows, and scrape time, in-process.

Realistic journeys from the traffic generator are replayed for N customers
(each journey as one batch message, its customer and event ids made unique)
through the pure ``PartitionProcessor`` over a plain dict store, exactly the
rows a worker's table holds. All journeys start within 20 minutes of event
time, so at the end every session is still open; then the watermark moves
past the gap, every session closes and what is left is what the reach
windows (and de-duplication, repurchase) keep per customer.

Run in its own process for a clean resident-set figure:

    python -m bench.state --customers 1000000 [--tracemalloc]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import sys
import time
import traceback
import tracemalloc
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import orjson
import psutil
from prometheus_client.registry import Collector

from tracker.core.partition import PartitionProcessor
from tracker.core.pipeline_config import PipelineConfig
from tracker.core.pseudonym import Pseudonymizer
from tracker.kafka.changelog_codec import Codec, pack
from tracker.kafka.partitioner import partition_for
from tracker.metrics.render import render
from tracker.sentiment.scorer import SentimentScorer
from tracker.settings import Settings
from tracker.testing.offline_exporter import offline_exporter, offline_registry
from tracker.testing.reference import deliver_identity
from tracker.testing.traffic import TrafficGenerator

START_MS = 1_780_000_000_000
SPREAD_MS = 20 * 60_000  # journeys start within 20 minutes: every session still open at the end
PARTITIONS = 8
HOUSEKEEPING_EVERY = 5_000  # messages: about a second of a worker's batch traffic


class RowStore:
    """The rows a worker's table holds (a dict), counting changelog bytes instead of keeping them.

    A record's bytes are its key and its value as a worker sends it: packed with
    ``codec`` (``tracker/stream/store.py``).
    """

    def __init__(self, codec: Codec = "zstd") -> None:
        self.codec: Codec = codec
        self.rows: dict[str, bytes] = {}
        self.changelog_bytes = 0
        self.changelog_json_bytes = 0  # the same records' values unpacked, for comparison
        self.changelog_records = 0

    def get(self, key: str) -> bytes | None:
        return self.rows.get(key)

    def put(self, key: str, value: bytes) -> None:
        # A right-sized copy, as the worker's table keeps (orjson's buffer is >= 4 KiB).
        self.rows[key] = bytes(memoryview(value))
        self.changelog_bytes += len(key) + len(pack(value, self.codec))
        self.changelog_json_bytes += len(key) + len(value)
        self.changelog_records += 1

    def hold(self, key: str, value: bytes) -> None:
        self.rows[key] = value

    def delete(self, key: str) -> None:
        self.rows.pop(key, None)
        self.changelog_bytes += len(key)
        self.changelog_json_bytes += len(key)
        self.changelog_records += 1

    def items(self, prefix: str) -> Iterable[tuple[str, bytes]]:
        return [(k, v) for k, v in self.rows.items() if k.startswith(prefix)]


def templates(seed: int = 5, journeys: int = 4000) -> list[list[dict[str, Any]]]:
    """Consented journeys of the generator: events relative to their first (``_offset_ms``)."""
    generator = TrafficGenerator(random.Random(seed), returning_pool=1, malformed_share=0)
    by_customer: dict[str, list[dict[str, Any]]] = {}
    for message in generator.simulate(journeys * 6, START_MS, 500.0):
        event = orjson.loads(message.value)
        by_customer.setdefault(event["customer_id"], []).append(event)
    out = []
    for events in by_customer.values():
        if not all(e["consent"]["analytics"] for e in events):
            continue  # withdrawals and no-consent journeys keep nothing: not what is measured
        first = _ms(events[0]["occurred_at"])
        for event in events:
            event["_offset_ms"] = _ms(event["occurred_at"]) - first
            event.pop("sent_at", None)
        out.append(events)
    return out[:journeys]


def _ms(text: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(text).timestamp() * 1000)


def _iso(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def messages(
    customers: int, journeys: list[list[dict[str, Any]]]
) -> Iterator[tuple[bytes, bytes, int]]:
    """(key, value, broker ms) of one batch message per customer, in start-time order."""
    for i in range(customers):
        template = journeys[i % len(journeys)]
        customer = f"cust-{i:09d}"
        start = START_MS + i * SPREAD_MS // customers
        batch = []
        last = start
        for k, event in enumerate(template):
            at = start + event["_offset_ms"]
            last = max(last, at)
            copy = {key: value for key, value in event.items() if key != "_offset_ms"}
            copy["customer_id"] = customer
            copy["event_id"] = f"{customer}-{k}"
            copy["occurred_at"] = _iso(at)
            batch.append(copy)
        yield customer.encode(), orjson.dumps(batch), last


@dataclass
class Phase:
    customers: int
    rows: int
    open_sessions: int
    row_bytes_per_customer: float
    traced_bytes_per_customer: float | None
    rss_bytes_per_customer: float | None
    scrape_ms: float

    def per_open_session(self, per_customer: float | None) -> float | None:
        """A per-customer figure over the open sessions: every customer's state counts."""
        if per_customer is None or not self.open_sessions:
            return None
        return per_customer * self.customers / self.open_sessions


@dataclass
class StateReport:
    customers: int
    events: int
    feed_seconds: float
    open: Phase
    reach: Phase
    changelog_bytes_per_event: float
    changelog_json_bytes_per_event: float = 0.0  # the same records as JSON (codec "none")


def _scrape_ms(
    processors: dict[int, PartitionProcessor], config: PipelineConfig, now: int
) -> float:
    return scrape_ms(offline_registry(offline_exporter(processors, config, now)), render)


def scrape_ms(registry: Collector, renderer: Callable[[Collector], bytes]) -> float:
    """Median of 7 renderings of ``registry`` to text, in milliseconds."""
    timings = []
    for _ in range(7):
        began = time.perf_counter()
        renderer(registry)
        timings.append((time.perf_counter() - began) * 1000)
    return statistics.median(timings)


def _phase(
    processors: dict[int, PartitionProcessor],
    stores: dict[int, RowStore],
    config: PipelineConfig,
    customers: int,
    now: int,
    traced_base: int | None,
    rss_base: int | None,
) -> Phase:
    gc.collect()
    traced = None  # read first: the measuring below allocates too
    if traced_base is not None:
        traced = (tracemalloc.get_traced_memory()[0] - traced_base) / customers
    rss = None
    if rss_base is not None:
        rss = (psutil.Process().memory_info().rss - rss_base) / customers
    row_bytes = row_count = 0
    for store in stores.values():
        for key, value in store.rows.items():
            if "/c/" in key:
                row_bytes += len(key) + len(value)
                row_count += 1
    return Phase(
        customers,
        row_count,
        sum(sum(p.active_sessions.values()) for p in processors.values()),
        row_bytes / customers,
        traced,
        rss,
        untraced(lambda: _scrape_ms(processors, config, now)),
    )


def untraced(timed: Callable[[], float]) -> float:
    """``timed()`` without tracemalloc's cost, which is several times a scrape's own.

    While tracing, it runs in a forked child that stops tracing first: the same state,
    copied on write, while this process keeps its traces for the memory figures.
    """
    if not tracemalloc.is_tracing():
        return timed()
    read, write = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read)
        os.close(write)
        raise
    if pid == 0:  # the child: report and leave, whatever happens
        status = 1
        try:
            os.close(read)
            tracemalloc.stop()
            os.write(write, repr(timed()).encode())
            status = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(status)
    os.close(write)
    with os.fdopen(read) as answer:
        text = answer.read()
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    if code != 0 or not text:
        raise RuntimeError(f"the untraced child failed (exit code {code}; its traceback above)")
    return float(text)


def pipeline_config(**settings_overrides: Any) -> PipelineConfig:
    settings = Settings(pseudonym_key="bench-state-pseudonym-key-0001", **settings_overrides)
    config = PipelineConfig.from_settings(
        settings, Pseudonymizer(b"bench-state-pseudonym-key-0001"), SentimentScorer()
    )
    assert isinstance(config.rules.scorer, SentimentScorer)
    config.rules.scorer.warm_up()
    return config


def feed(
    processors: dict[int, PartitionProcessor], stream: Iterable[tuple[bytes, bytes, int]]
) -> tuple[int, int]:
    """Apply ``stream`` to the partitions' processors; returns its events and last time."""
    offsets = dict.fromkeys(processors, -1)
    events = 0
    last = START_MS
    for n, (key, value, broker_ms) in enumerate(stream):
        partition = partition_for(key, PARTITIONS)
        offsets[partition] += 1
        processors[partition].process(key, value, offsets[partition], broker_ms, broker_ms)
        hand_over(processors, processors[partition])
        events += value.count(b'"event_id"')
        last = max(last, broker_ms)
        if n % HOUSEKEEPING_EVERY == 0:
            housekeeping(processors, broker_ms)
    for _ in range(100):  # a worker's next seconds: records acknowledged leave their rows
        housekeeping(processors, last)
        if not any(p.identity.keeps_records() for p in processors.values()):
            break
    return events, last


def housekeeping(processors: dict[int, PartitionProcessor], now_ms: int) -> None:
    """A worker's flush timer for every partition: tick (identity records acknowledged
    leave their rows), records handed over, then every partition flushed, so that no
    row written by a hand-over waits for a flush that already happened."""
    for processor in processors.values():
        processor.tick(now_ms)
        hand_over(processors, processor)
    for processor in processors.values():
        processor.flush()


def hand_over(processors: dict[int, PartitionProcessor], source: PartitionProcessor) -> None:
    """What a worker sends on: identity records to their partition, delivered at once.

    Left queued, a login's records (and the device rows they hand over) would count as
    state that a worker does not keep.
    """
    source.outbox.clear()  # the account stage is not part of this state
    # No restore here, so each partition's applied identity offset is the topic's last.
    offsets = {p: processor.identity.applied for p, processor in processors.items()}
    deliver_identity(processors, source, offsets, lambda target: target.outbox.clear())


def measure(customers: int, trace: bool) -> StateReport:
    config = pipeline_config()
    journeys = templates()
    stores = {p: RowStore() for p in range(PARTITIONS)}
    processors = {p: config.processor(p, stores[p], PARTITIONS) for p in range(PARTITIONS)}
    gc.collect()
    rss_base = psutil.Process().memory_info().rss
    traced_base = None
    if trace:
        tracemalloc.start()
        traced_base = tracemalloc.get_traced_memory()[0]
    began = time.perf_counter()
    events, last = feed(processors, messages(customers, journeys))
    feed_s = time.perf_counter() - began
    open_phase = _phase(processors, stores, config, customers, last, traced_base, rss_base)
    after = last + config.rules.gap_ms + 2 * 3_600_000
    housekeeping(processors, after)
    reach_phase = _phase(processors, stores, config, customers, after, traced_base, None)
    changelog = sum(s.changelog_bytes for s in stores.values())
    as_json = sum(s.changelog_json_bytes for s in stores.values())
    return StateReport(
        customers, events, feed_s, open_phase, reach_phase, changelog / events, as_json / events
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--tracemalloc", action="store_true", help="also trace Python allocations")
    args = parser.parse_args()
    report = measure(args.customers, args.tracemalloc)
    json.dump(asdict(report), sys.stdout)
    print()


if __name__ == "__main__":
    main()
