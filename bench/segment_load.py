"""The Segment endpoint against the collector's own, on one pinned core, in one run.

The collector (``tracker collector``) runs pinned to one CPU with its real producer
and the embedded broker; this process drives it from the other CPU. First
``POST /v1/events`` with the collector benchmark's 10-event batches (what the
collector sustains today), then ``POST /v1/batch`` with Segment batches of 100
messages as analytics-python sends them. Compared by events/s sustained, and by events
per collector CPU
second too: /v1/events is limited by the client core (ten times the requests), Segment
by the collector's, whose Kafka messages are one per visitor of a batch.

    python -m bench.segment_load --requests 2000

Target (issue 16): the Segment endpoint sustains at least the collector's events/s.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson

from bench.collector_load import batches, cpu_seconds, pin, start_collector
from tracker.kafka.broker import ensure_topics, start_embedded

TOPIC = "bench-collector-events"
WRITE_KEY = "bench-write-key"
SEGMENT_BATCH = 100
EVENTS_BATCH = 10
CONSENT = {"consent": {"categoryPreferences": {"Analytics": True}}}


@dataclass(frozen=True, slots=True)
class Rate:
    events: int
    seconds: float
    cpu_seconds: float

    @property
    def per_second(self) -> float:
        return self.events / self.seconds

    @property
    def per_core(self) -> float:
        return self.events / self.cpu_seconds


@dataclass(frozen=True, slots=True)
class SegmentLoadResult:
    events_api: Rate  # POST /v1/events, 10 events per request
    segment: Rate  # POST /v1/batch, 100 messages per request

    def target_row(self) -> tuple[str, str, str]:
        # Sustained: the events/s each endpoint carried with the collector pinned to one core.
        met = self.segment.per_second >= self.events_api.per_second
        return (
            f"Segment /v1/batch ({SEGMENT_BATCH} per batch) sustains on one core ≥ the "
            f"collector's /v1/events ({EVENTS_BATCH} per request) events/s",
            f"{self.segment.per_second:,.0f} vs {self.events_api.per_second:,.0f} events/s; "
            f"per collector CPU s {self.segment.per_core:,.0f} vs {self.events_api.per_core:,.0f}"
            " (a Segment batch spans ~34 visitors: one Kafka message per visitor)",
            "met" if met else "missed",
        )


def segment_bodies(count: int, customers: int) -> list[bytes]:
    """Batches as analytics-python sends them from a shop's backend: each visitor's page,
    Product Added and Order Completed in a row, so about 34 visitors per batch."""
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    library = {"name": "analytics-python", "version": "2.4.0"}
    bodies = []
    for n in range(count):
        batch = []
        for i in range(SEGMENT_BATCH):
            message = {
                "type": "track" if i % 3 else "page",
                "messageId": str(uuid.uuid4()),
                "anonymousId": f"bench-{(n * SEGMENT_BATCH + i) // 3 % customers}",
                "timestamp": now,
                "context": {**CONSENT, "library": library},
                "integrations": {},
                "properties": {"path": "/product/trail-runner", "sku": "trail-runner"},
            }
            if i % 3 == 1:
                message["event"] = "Product Added"
            elif i % 3 == 2:
                message["event"] = "Order Completed"
                message["properties"] = {
                    "order_id": f"o-{n}-{i}",
                    "revenue": 42.5,
                    "currency": "EUR",
                }
            batch.append(message)
        bodies.append(orjson.dumps({"batch": batch, "sentAt": now, "writeKey": WRITE_KEY}))
    return bodies


async def drive(url: str, bodies: list[bytes], headers: dict[str, str], concurrency: int) -> float:
    import aiohttp

    statuses: dict[int, int] = {}
    queue = iter(bodies)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def client() -> None:
            for body in queue:
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    statuses[response.status] = statuses.get(response.status, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    if set(statuses) - {200, 202}:
        raise SystemExit(f"not every request was accepted: {statuses}")
    return elapsed


def measure(pid: int, url: str, bodies: list[bytes], headers: dict[str, str], per: int) -> Rate:
    warm = max(1, len(bodies) // 10)
    asyncio.run(drive(url, bodies[:warm], headers, 16))
    before = cpu_seconds(pid)
    elapsed = asyncio.run(drive(url, bodies[warm:], headers, 16))
    return Rate((len(bodies) - warm) * per, elapsed, cpu_seconds(pid) - before)


def run(requests: int = 1_000, collector_cpu: int = 0, client_cpu: int = 1) -> SegmentLoadResult:
    work = Path(tempfile.mkdtemp(prefix="segment-bench-"))
    broker = start_embedded(work)
    collector = None
    try:
        os.sched_setaffinity(0, {client_cpu})
        assert broker.process is not None
        pin(broker.process.pid, client_cpu)
        ensure_topics(broker.bootstrap, [(TOPIC, 8, {})])
        settings = {"TRACKER_WRITE_KEYS": WRITE_KEY}
        collector, url = start_collector(broker, work, collector_cpu, None, settings)
        plain = {"Content-Type": "text/plain", "User-Agent": "Mozilla/5.0 Chrome/126.0 (bench)"}
        events_api = measure(
            collector.pid, url + "/v1/events", batches(requests * 10, EVENTS_BATCH, 1_000),
            plain, EVENTS_BATCH,
        )  # fmt: skip
        key = base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
        auth = {"Content-Type": "application/json", "Authorization": f"Basic {key}"}
        segment = measure(
            collector.pid, url + "/v1/batch", segment_bodies(requests, 1_000), auth, SEGMENT_BATCH
        )
        return SegmentLoadResult(events_api, segment)
    finally:
        if collector is not None:
            collector.terminate()
            collector.wait(timeout=30)
        broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1_000, help="Segment batches to send")
    args = parser.parse_args()
    result = run(args.requests)
    print(" | ".join(result.target_row()))


if __name__ == "__main__":
    main()
