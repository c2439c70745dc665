"""A large population of distinct customers, and what their state costs.

Used by the memory scenario (``tests/integration/test_reliability.py``) and the
one-million-customer benchmark (``bench/memory.py``). Every customer has one
engaged web session (page view, search, product view within 12 s), sent as one
batch message; customers arrive evenly over ``span_days`` of event time that
ends well over 90 days ago, so state expires while the stream runs (the
watermark passes each customer's last event + 90 days) and the rest once the
idle rule moves the watermark to now.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import overload

import orjson

from tracker.testing.traffic import Message

DAY_MS = 86_400_000


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


class Population(Sequence[Message]):
    """``customers`` batch messages of three events each, in event-time order, built lazily."""

    def __init__(self, customers: int, span_days: float = 200, ends_days_ago: float = 100) -> None:
        self.customers = customers
        now_ms = int(time.time() * 1000)
        self.start_ms = now_ms - int((span_days + ends_days_ago) * DAY_MS)
        self.step_ms = span_days * DAY_MS / customers

    def __len__(self) -> int:
        return self.customers

    @overload
    def __getitem__(self, index: int) -> Message: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Message]: ...
    def __getitem__(self, index: int | slice) -> Message | Sequence[Message]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self.customers))]
        if not 0 <= index < self.customers:
            raise IndexError(index)
        return self._message(index)

    def _message(self, i: int) -> Message:
        at = self.start_ms + int(i * self.step_ms)
        customer = f"pop-{i:07d}"
        base = {
            "schema_version": 1,
            "customer_id": customer,
            "channel": "web",
            "consent": {"analytics": True, "marketing": False},
        }
        events = [
            {
                **base,
                "event_id": f"{customer}-1",
                "event_type": "page_view",
                "touchpoint": "home",
                "occurred_at": _iso(at),
            },
            {
                **base,
                "event_id": f"{customer}-2",
                "event_type": "interaction",
                "touchpoint": "home",
                "action": "search",
                "occurred_at": _iso(at + 5_000),
            },
            {
                **base,
                "event_id": f"{customer}-3",
                "event_type": "page_view",
                "touchpoint": "product",
                "occurred_at": _iso(at + 12_000),
            },
        ]
        return Message(customer.encode(), orjson.dumps(events), at + 12_500, 3)


def expected_counters(customers: int) -> dict[str, float]:
    """What every customer's one engaged, interacted, non-converting session adds up to."""
    n = float(customers)
    return {
        "tracker_events_total{channel=web,event_type=page_view}": 2 * n,
        "tracker_events_total{channel=web,event_type=interaction}": n,
        "tracker_sessions_started_total{channel=web}": n,
        "tracker_sessions_closed_total{channel=web}": n,
        "tracker_sessions_engaged_total{channel=web}": n,
        "tracker_sessions_interacted_total{channel=web}": n,
        "tracker_journey_transitions_total{from_touchpoint=home,to_touchpoint=product}": n,
        "tracker_session_exits_total{touchpoint=product}": n,
    }


def rss_bytes(pid: int) -> int:
    """Resident set size of a process (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


@dataclass
class ChangelogCensus:
    """Customer rows in a state changelog, read to its end (what compaction would keep)."""

    records: int = 0
    customer_keys: int = 0
    live_customers: int = 0  # last record of the key is a value
    tombstoned_customers: int = 0  # last record of the key is a tombstone
    last_value_bytes: int = 0  # key + last value of every customer key, tombstoned or not

    @property
    def bytes_per_customer(self) -> float:
        return self.last_value_bytes / self.customer_keys if self.customer_keys else 0.0


def census(bootstrap: str, topic: str, timeout: float = 120) -> ChangelogCensus:
    from kafka.consumer import KafkaConsumer
    from kafka.structs import TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap.split(","),
        enable_auto_commit=False,
        group_id=None,
        max_poll_records=5000,
    )
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        last: dict[bytes, int | None] = {}
        sizes: dict[bytes, int] = {}
        result = ChangelogCensus()
        deadline = time.monotonic() + timeout
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            if time.monotonic() > deadline:
                raise AssertionError(f"reading {topic} took over {timeout}s")
            for batch in consumer.poll(timeout_ms=500).values():
                for record in batch:
                    result.records += 1
                    if b"/c/" not in record.key:
                        continue
                    if record.value is None:
                        last[record.key] = None
                    else:
                        last[record.key] = len(record.value)
                        sizes[record.key] = len(record.key) + len(record.value)
        result.customer_keys = len(last)
        result.live_customers = sum(1 for v in last.values() if v is not None)
        result.tombstoned_customers = result.customer_keys - result.live_customers
        result.last_value_bytes = sum(sizes.values())
        return result
    finally:
        consumer.close()
