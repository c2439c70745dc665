"""Producing the benchmark's messages and reading them back raw (the aiokafka ceiling)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from tracker.kafka.partitioner import partition_for
from tracker.testing.traffic import Message


@dataclass(frozen=True, slots=True)
class RawRead:
    messages: int
    bytes: int
    seconds: float
    cpu_seconds: float


def producer(bootstrap: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap.split(","),
        acks="all",
        linger_ms=20,
        max_batch_size=1_048_576,
        max_request_size=2_097_152,
    )


async def produce_async(
    bootstrap: str,
    topic: str,
    messages: Sequence[Message],
    partitions: int,
    pace: Callable[[Message], float] | None = None,
    on_sent: Callable[[int, float], None] | None = None,
) -> float:
    """Send in order, each to its key's partition (Kafka's default partitioner).

    ``pace`` gives each message's wall-clock send time (``time.time()``
    seconds); without it everything goes as fast as possible. ``on_sent``
    hears (index, send time) as each message is handed to the client.
    """
    kafka = producer(bootstrap)
    await kafka.start()
    started = time.perf_counter()
    try:
        pending = []
        for index, message in enumerate(messages):
            if pace is not None:
                delay = pace(message) - time.time()
                if delay > 0.002:
                    await asyncio.sleep(delay)
            sent_at = time.time()
            pending.append(
                await kafka.send(
                    topic,
                    value=message.value,
                    key=message.key,
                    partition=partition_for(message.key, partitions),
                    timestamp_ms=message.timestamp_ms,
                )
            )
            if on_sent is not None:
                on_sent(index, sent_at)
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await kafka.stop()
    return time.perf_counter() - started


def produce(bootstrap: str, topic: str, messages: Sequence[Message], partitions: int) -> float:
    return asyncio.run(produce_async(bootstrap, topic, messages, partitions))


async def _read_all(bootstrap: str, topic: str, partitions: int, expected: int) -> RawRead:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap.split(","),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_bytes=52_428_800,
        max_partition_fetch_bytes=1_048_576 * 4,
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        count = size = 0
        started = time.perf_counter()
        cpu = time.process_time()
        while count < expected:
            batches = await consumer.getmany(timeout_ms=200, max_records=10_000)
            for records in batches.values():
                count += len(records)
                size += sum(len(r.value or b"") for r in records)
            if time.perf_counter() - started > 600:
                raise RuntimeError(f"raw read stalled at {count} of {expected} messages")
        return RawRead(count, size, time.perf_counter() - started, time.process_time() - cpu)
    finally:
        await consumer.stop()


def read_all(bootstrap: str, topic: str, partitions: int, expected: int) -> RawRead:
    """Every message of the topic with plain ``getmany``, no processing."""
    return asyncio.run(_read_all(bootstrap, topic, partitions, expected))
