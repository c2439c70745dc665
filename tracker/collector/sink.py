"""Writing batches to Kafka with aiokafka: acks=all, and a 202 only after the ack.

The producer connects (and creates the input topic if missing) in the
background and keeps retrying, so a collector started while the broker is
down comes up at once, answers 503 and reports not-ready until the broker
is reachable, instead of crash-looping.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError

from tracker.collector.errors import SinkUnavailableError
from tracker.collector.intake import Message
from tracker.settings import Settings

log = logging.getLogger("tracker.collector")
READY_TTL = 2.0  # seconds a readiness answer is reused: probes must stay cheap
PROBE_TIMEOUT = 2.0


def producer_options(settings: Settings, bootstrap: str) -> dict[str, Any]:
    return {
        **connection_options(settings, bootstrap),
        "acks": "all",
        "linger_ms": settings.collector_linger_ms,
        # Also bounds how long a batch may wait in the producer's buffer while the
        # broker is away: nothing piles up beyond what clients are told to retry.
        "request_timeout_ms": int(settings.collector_produce_timeout * 1000),
        "max_request_size": 2 * 1024 * 1024,
    }


def connection_options(settings: Settings, bootstrap: str) -> dict[str, Any]:
    return {
        **settings.kafka_connection(bootstrap).aiokafka_options(),
        "client_id": "tracker-collector",
    }


class KafkaSink:
    def __init__(self, settings: Settings, bootstrap: str) -> None:
        self.topic = settings.topic
        self.bootstrap = bootstrap
        self.idempotent = settings.collector_idempotence
        # Created like the worker would, so whichever starts first agrees with the other.
        self._topic = NewTopic(settings.topic, settings.partitions, settings.replication_factor)
        self._connection = connection_options(settings, bootstrap)
        self._options = producer_options(settings, bootstrap)
        self._producer: AIOKafkaProducer | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._ready = False
        self._checked_at = float("-inf")
        self._lock = asyncio.Lock()

    @property
    def connected(self) -> bool:
        return self._producer is not None

    async def start(self) -> None:
        """Begin connecting; returns at once (``wait_connected`` to block)."""
        self._connecting = asyncio.create_task(self._connect_forever())

    async def wait_connected(self, timeout: float) -> None:
        if self._connecting is not None:
            await asyncio.wait_for(asyncio.shield(self._connecting), timeout)

    async def stop(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connecting
        producer, self._producer = self._producer, None
        if producer is not None:
            # stop() flushes what is buffered; with the broker gone that would hang.
            with contextlib.suppress(TimeoutError, KafkaError):
                await asyncio.wait_for(producer.stop(), timeout=10)

    async def produce(self, messages: Sequence[Message], timestamp_ms: int) -> None:
        """Write all messages; returns when the broker acknowledged every one."""
        producer = self._producer
        if producer is None:
            raise SinkUnavailableError(f"not connected to the broker at {self.bootstrap} yet")
        try:
            pending = [
                await producer.send(self.topic, m.value, key=m.key, timestamp_ms=timestamp_ms)
                for m in messages
            ]
            await asyncio.gather(*pending)
        except KafkaError as exc:
            raise SinkUnavailableError(f"the broker did not acknowledge: {exc!r}") from exc

    async def reachable(self) -> bool:
        """The broker answers metadata requests and knows the topic (cached briefly)."""
        async with self._lock:  # concurrent probes share one metadata request
            if time.monotonic() - self._checked_at >= READY_TTL:
                self._ready = await self._probe()
                self._checked_at = time.monotonic()
            return self._ready

    async def _probe(self) -> bool:
        producer = self._producer
        if producer is None:
            return False
        try:
            cluster = await asyncio.wait_for(
                producer.client.fetch_all_metadata(), timeout=PROBE_TIMEOUT
            )
        except (KafkaError, TimeoutError):
            return False
        return self.topic in cluster.topics()

    async def _connect_forever(self) -> None:
        delay = 0.5
        while True:
            try:
                if self._producer is None:
                    self._producer = await self._start_producer(self.idempotent)
                    log.info("collector: connected to %s", self.bootstrap)
                await self._ensure_topic(self._producer)
                return
            except KafkaError as exc:
                log.warning(
                    "collector: broker %s not reachable (%r); retrying", self.bootstrap, exc
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _ensure_topic(self, producer: AIOKafkaProducer) -> None:
        """Create the input topic when missing (the worker creates its other topics)."""
        cluster = await producer.client.fetch_all_metadata()
        if self.topic in cluster.topics():
            return
        admin = AIOKafkaAdminClient(**self._connection)
        await admin.start()
        try:
            response = await admin.create_topics([self._topic])
        finally:
            await admin.close()
        for _name, code, message in response.topic_errors:
            if code not in (0, TopicAlreadyExistsError.errno):
                raise KafkaError(f"creating topic {self.topic}: error {code} {message}")
        log.info("collector: created topic %s", self.topic)

    async def _start_producer(self, idempotent: bool) -> AIOKafkaProducer:
        producer = AIOKafkaProducer(**self._options, enable_idempotence=idempotent)
        sender_log = logging.getLogger("aiokafka.producer.sender")
        level = sender_log.level
        if idempotent:
            sender_log.setLevel(logging.CRITICAL)  # a refusal is expected, and reported below
        try:
            await producer.start()
        except KafkaConnectionError:
            await producer.stop()
            raise
        except KafkaError as exc:
            await producer.stop()
            if not idempotent:
                raise
            # Tansu, the embedded broker, answers InitProducerId with an error. Without
            # idempotence a broker-side retry may store a batch twice; the worker
            # de-duplicates by event_id, so counts stay exact.
            log.warning(
                "collector: broker refused an idempotent producer (%r); using acks=all", exc
            )
            return await self._start_producer(False)
        finally:
            sender_log.setLevel(level)
        return producer
