"""A typed Kafka producer for backends: batches per customer, confirms delivery, retries.

Each customer's events of one ``send`` go as one message (a JSON array; split at the
worker's message limits) keyed by the customer id, to the partition the project's
partitioner (murmur2, ``tracker.kafka.partitioner``) gives that key, which is the
partition the collector uses too: a backend's orders and a browser's page views of
one customer meet in one worker and one session. ``send`` returns once the broker
acknowledged every message (acks=all). A failed write is retried with the same
bytes, so the same event ids: the worker's de-duplication makes a retry that did
reach the broker count once (docs/metrics.md#duplicates).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from tracker.core.batching import pack
from tracker.core.contract import Event
from tracker.errors import TrackerError
from tracker.kafka.partitioner import partition_for
from tracker.settings import Settings

log = logging.getLogger("tracker.producer")


class DeliveryError(TrackerError):
    """The broker did not acknowledge a message after every retry."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """What the broker acknowledged for one ``send``."""

    events: int
    messages: int
    partitions: tuple[int, ...]


def encode(events: Iterable[Event], max_events: int, max_bytes: int) -> dict[str, list[bytes]]:
    """Per customer, the message values carrying its events, in order, within the limits."""
    by_customer: dict[str, list[bytes]] = {}
    for event in events:
        encoded = orjson.dumps(event.model_dump(mode="json", exclude_none=True))
        by_customer.setdefault(event.customer_id, []).append(encoded)
    return {
        customer: [value for value, _ in pack(encoded, max_events, max_bytes)]
        for customer, encoded in by_customer.items()
    }


class TrackerProducer:
    """``async with TrackerProducer(settings, bootstrap) as producer: await producer.send(...)``"""

    def __init__(
        self,
        settings: Settings,
        bootstrap: str,
        *,
        retries: int = 5,
        backoff: float = 0.5,
        **options: Any,
    ) -> None:
        self.settings = settings
        self.topic = settings.topic
        self.retries = retries
        self.backoff = backoff
        self._options = {
            **settings.kafka_connection(bootstrap).aiokafka_options(),
            "client_id": "tracker-producer",
            "acks": "all",
            "linger_ms": 5,
            "max_request_size": 2 * 1024 * 1024,
            **options,
        }
        self._producer: AIOKafkaProducer | None = None
        self.partitions = 0

    async def __aenter__(self) -> TrackerProducer:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        self._producer = AIOKafkaProducer(**self._options)
        await self._producer.start()
        found = await self._producer.partitions_for(self.topic)
        if not found:
            raise DeliveryError(f"topic {self.topic} does not exist (tracker worker creates it)")
        self.partitions = len(found)

    async def stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    async def send(self, *events: Event) -> Delivery:
        """Send the events, one message per customer; return once all are acknowledged."""
        values = encode(events, self.settings.max_message_events, self.settings.max_message_bytes)
        writes = [
            (customer.encode(), value)
            for customer, messages in values.items()
            for value in messages
        ]
        partitions = await asyncio.gather(*(self._write(key, value) for key, value in writes))
        return Delivery(len(events), len(writes), tuple(sorted(set(partitions))))

    async def _write(self, key: bytes, value: bytes) -> int:
        producer = self._producer
        if producer is None:
            raise DeliveryError("the producer is not started")
        partition = partition_for(key, self.partitions)
        for attempt in range(self.retries + 1):
            try:
                await producer.send_and_wait(self.topic, value, key=key, partition=partition)
                return partition
            except KafkaError as exc:
                if attempt == self.retries:
                    raise DeliveryError(
                        f"not acknowledged after {attempt + 1} tries: {exc!r}"
                    ) from exc
                log.warning("producer: write not acknowledged (%r); retrying", exc)
                await asyncio.sleep(self.backoff * 2**attempt)
        raise AssertionError("unreachable")
