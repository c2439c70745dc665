"""Memory of a worker under steady load for minutes (``make bench`` with ``--soak``).

A live producer sends generated traffic at a fixed rate (collector-style
batches of up to 10 events), with the customers mapped onto a fixed
population: once every customer has been seen, state stops growing by
design, so resident memory should level off too (device ids that log in are mapped
the same way). RSS is sampled every 10 s.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import threading
import time
import uuid
from dataclasses import dataclass, field

import orjson

from bench.kafka_io import producer
from bench.procs import WORKER, BenchError, Proc, wait_for
from bench.throughput import Bench
from tracker.kafka.broker import ensure_topics, free_port
from tracker.kafka.partitioner import partition_for
from tracker.testing.traffic import TrafficGenerator

POPULATION = 50_000
MEAN_EVENTS_PER_JOURNEY = 5.5


@dataclass
class SoakResult:
    minutes: float
    rate: float
    events: int
    samples: list[tuple[float, float]] = field(default_factory=list)  # (seconds, RSS MiB)

    def rss_at(self, seconds: float) -> float:
        return min(self.samples, key=lambda s: abs(s[0] - seconds))[1]

    @property
    def growth_mib(self) -> float:
        """RSS growth over the second half of the run."""
        return self.rss_at(self.minutes * 60) - self.rss_at(self.minutes * 30)


def _remap(value: bytes, population: int = POPULATION) -> tuple[bytes, bytes] | None:
    try:
        decoded = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    items = decoded if isinstance(decoded, list) else [decoded]
    if not items or not all(isinstance(i, dict) and "customer_id" in i for i in items):
        return None
    customer = _member("pop", items[0]["customer_id"], population)
    for item in items:
        item["customer_id"] = customer
        # The device id a login links, mapped as the device's own events were (their
        # customer_id): otherwise every login names a new device whose row is new state for
        # the rest of the run, and RSS grows with it by design.
        if "anonymous_id" in item:
            item["anonymous_id"] = _member("pop", item["anonymous_id"], population)
    return customer.encode(), orjson.dumps(decoded)


def _member(prefix: str, original: object, population: int = POPULATION) -> str:
    digest = hashlib.blake2b(str(original).encode(), digest_size=8).digest()
    return f"{prefix}-{int.from_bytes(digest, 'big') % population:06d}"


async def _produce(bench: Bench, topic: str, rate: float, seconds: float, sent: list[int]) -> None:
    generator = TrafficGenerator(random.Random(3))
    kafka = producer(bench.bootstrap)
    await kafka.start()
    started = time.monotonic()
    owed = 0.0
    try:
        while time.monotonic() - started < seconds:
            owed += rate * 0.1 / MEAN_EVENTS_PER_JOURNEY
            if owed >= 1:
                generator.start_journeys(int(owed), int(time.time() * 1000))
                owed -= int(owed)
            for message in generator.due(int(time.time() * 1000), max_batch=10):
                remapped = _remap(message.value)
                if remapped is None:
                    continue
                key, value = remapped
                await kafka.send(
                    topic,
                    value=value,
                    key=key,
                    partition=partition_for(key, bench.partitions),
                    timestamp_ms=message.timestamp_ms,
                )
                sent[0] += message.events
            await asyncio.sleep(0.1)
        await kafka.flush()
    finally:
        await kafka.stop()


def _ready(worker: Proc) -> bool:
    worker.check()
    return worker.ready_partitions() is not None


def run(bench: Bench, rate: float, minutes: float) -> SoakResult:
    group = f"bench-soak-{uuid.uuid4().hex[:8]}"
    topic = f"{group}-events"
    ensure_topics(bench.bootstrap, [(topic, bench.partitions, {})])
    port = free_port()
    env = bench.env(topic, group, port, bench.root / group / "w0")
    worker = Proc(WORKER, env, port, bench.root / group / "w0.log").start()
    result = SoakResult(minutes, rate, 0)
    sent = [0]
    errors: list[BaseException] = []

    def produce() -> None:
        try:
            asyncio.run(_produce(bench, topic, rate, minutes * 60, sent))
        except BaseException as exc:  # reported below
            errors.append(exc)

    try:
        wait_for(lambda: _ready(worker), 120, "the soak worker to be ready")
        thread = threading.Thread(target=produce, name="bench-soak-producer", daemon=True)
        started = time.monotonic()
        thread.start()
        while thread.is_alive():
            worker.check()
            result.samples.append((time.monotonic() - started, worker.rss() / 2**20))
            thread.join(timeout=10)
        if errors:
            raise BenchError(f"soak producer failed: {errors[0]!r}")
        result.samples.append((time.monotonic() - started, worker.rss() / 2**20))
        result.events = sent[0]
        return result
    finally:
        worker.stop()
