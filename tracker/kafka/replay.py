"""``tracker replay``: send a JSON-lines file of events to the input topic.

Consecutive lines of the same customer are batched into one message (a JSON
array, as a collector would send), keyed by the customer; each record's
timestamp is the event's ``sent_at`` (else ``occurred_at``) so replayed
history keeps its own times and order. Lines that are not valid events are
sent as they are: the worker's dead-letter handling is part of what a
replay exercises.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from tracker.core.timestamps import to_ms

MAX_BATCH_EVENTS = 100


@dataclass(frozen=True, slots=True)
class Record:
    key: bytes | None
    value: bytes
    timestamp_ms: int | None
    events: int


def _fields(line: bytes) -> tuple[str | None, int | None, Any]:
    try:
        item = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None, None, None
    if not isinstance(item, dict):
        return None, None, None
    customer = item.get("customer_id")
    stamp = item.get("sent_at") or item.get("occurred_at")
    moment: int | None = None
    if isinstance(stamp, str):
        try:
            parsed = datetime.fromisoformat(stamp)
            moment = to_ms(parsed) if parsed.tzinfo else None
        except ValueError:
            moment = None
    return (customer if isinstance(customer, str) else None), moment, item


def records(lines: Iterable[bytes], max_batch: int = MAX_BATCH_EVENTS) -> Iterator[Record]:
    """Group consecutive valid-JSON lines of one customer into array messages."""
    batch: list[Any] = []
    batch_key: str | None = None
    batch_time: int | None = None

    def flush() -> Iterator[Record]:
        nonlocal batch
        if batch:
            value = orjson.dumps(batch[0] if len(batch) == 1 else batch)
            yield Record(batch_key.encode() if batch_key else None, value, batch_time, len(batch))
            batch = []

    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        customer, moment, item = _fields(line)
        if item is None or customer is None:
            yield from flush()
            key = customer.encode() if customer else None
            yield Record(key, line, moment, 1)  # sent unchanged: the worker rejects it
            continue
        if customer != batch_key or len(batch) >= max_batch:
            yield from flush()
            batch_key = customer
        batch.append(item)
        batch_time = moment if moment is not None else batch_time
    yield from flush()


def send(
    producer: Any,
    topic: str,
    stream: Iterable[Record],
    speed: float | None = None,
    progress: Any = None,
) -> int:
    """Produce every record; waits for the broker's acknowledgement of all. Returns events."""
    sent = 0
    first_event: int | None = None
    started = time.monotonic()
    futures = []
    for record in stream:
        if speed and record.timestamp_ms is not None:
            first_event = first_event if first_event is not None else record.timestamp_ms
            due = started + (record.timestamp_ms - first_event) / 1000 / speed
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        futures.append(
            producer.send(
                topic, key=record.key, value=record.value, timestamp_ms=record.timestamp_ms
            )
        )
        sent += record.events
        if progress is not None:
            progress.update(record.events)
        if len(futures) >= 10_000:
            for future in futures:
                future.get(timeout=60)
            futures.clear()
    producer.flush()
    for future in futures:
        future.get(timeout=60)  # raises if the broker refused a record
    return sent
