"""The benchmark's input: one generated stream, as 1-event messages and as regrouped batches.

The generator's journeys are short (about 5.5 events), so a collector-style
batch of 100 events needs customers with more events than that. ``regroup``
hands the generated customers, in order of first appearance, to "heavy"
customers of about ``BATCHES_PER_HEAVY_CUSTOMER * n`` events each (rewriting
``customer_id``), then groups each heavy customer's consecutive events into
arrays of ``n``; its last array also takes the few events left over, so
arrays hold ``n`` events and a few up to ``n`` + one journey. Every event of
an array gets the array's send time as ``sent_at`` and the message carries
it as its timestamp, as a collector flush would, so skew correction leaves
event times unchanged. Input that is not a JSON object (the generator's
malformed bytes) stays a message of its own.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from tracker.testing.traffic import Message, TrafficGenerator

BATCHES_PER_HEAVY_CUSTOMER = 2


def base_stream(seed: int, events: int, start_ms: int, rate: float = 200.0) -> list[Message]:
    """About ``events`` events of realistic traffic, one event per message, without logins.

    A drain is judged partition by partition against the reference, and an identify's
    hand-over makes one partition's counts wait for another's progress
    (docs/identity.md#exactness): a worker draining its partitions unevenly reaches the
    reference's totals only once the idle rule has moved every watermark. ``regroup``
    would also turn every login into a heavy customer claiming hundreds of devices.
    Identity's cost is measured on its own (``bench.identity_cost``).
    """
    generator = TrafficGenerator(
        random.Random(seed), returning_pool=max(200, events // 20), login_share=0.0
    )
    return generator.simulate(events, start_ms, rate, max_batch=1)


def steady_stream(
    seed: int, rate: float, seconds: float, start_ms: int, warmup_s: float = 60.0
) -> list[Message]:
    """``seconds`` of traffic at about ``rate`` events/s from ``start_ms`` on.

    Journeys last minutes, so a generator starts slowly; it runs ``warmup_s``
    before ``start_ms`` (with think times compressed 4x so that the number of
    journeys under way levels off within that) and only what follows is kept.
    """
    asked = rate * STEADY_RATE_CORRECTION
    # Without logins, as ``base_stream``: latency is read from each partition's cumulative
    # progress, and one event held for its identify's hand-over would hold back every later
    # message of its partition in that reading.
    generator = TrafficGenerator(
        random.Random(seed),
        returning_pool=max(200, int(rate * seconds) // 20),
        time_scale=0.25,
        login_share=0.0,
    )
    begin = start_ms - int(warmup_s * 1000)
    end = start_ms + int(seconds * 1000)
    # Bounded by time, not by a count of events: with a count, the stream ended wherever the
    # count ran out, and a stream richer than the count assumed ended before its window did.
    stream = generator.simulate(sys.maxsize, begin, asked, max_batch=1, until_ms=end)
    return [m for m in stream if start_ms <= m.timestamp_ms < end]


# The generator starts journeys for 5.5 events each, but its journeys now carry more
# (web vitals, support, experiments): asked for 1.4x, it offered 1.62x the rate in the
# window (500-5,000 events/s, 2026-12-05). tests/unit/test_bench_streams.py keeps this true.
STEADY_RATE_CORRECTION = 0.86


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def regroup(messages: Sequence[Message], n: int) -> list[Message]:
    """Arrays of ``n`` consecutive events per heavy customer; ``n == 1`` keeps the input."""
    if n == 1:
        return list(messages)
    decoded: list[dict[str, Any] | None] = []
    per_customer: dict[str, int] = {}
    for message in messages:
        try:
            value = orjson.loads(message.value)
        except orjson.JSONDecodeError:
            value = None
        ok = isinstance(value, dict) and isinstance(value.get("customer_id"), str)
        decoded.append(value if ok else None)
        if ok:
            customer = value["customer_id"]
            per_customer[customer] = per_customer.get(customer, 0) + 1
    # Customers in order of first appearance fill heavy customers up to their capacity.
    heavy_of: dict[str, str] = {}
    sizes: list[int] = [0]
    capacity = n * BATCHES_PER_HEAVY_CUSTOMER
    for customer, count in per_customer.items():
        if sizes[-1] >= capacity:
            sizes.append(0)
        heavy_of[customer] = f"heavy-{len(sizes) - 1:06d}"
        sizes[-1] += count
    # Batch sizes per heavy customer: n, n, ..., n + remainder.
    plans: dict[str, list[int]] = {}
    for index, total in enumerate(sizes):
        full, rest = divmod(total, n)
        plan = [n] * full if full else [rest]
        if full:
            plan[-1] += rest
        plans[f"heavy-{index:06d}"] = plan[::-1]  # popped from the end
    pending: dict[str, list[dict[str, Any]]] = {}
    out: list[Message] = []
    for message, value in zip(messages, decoded, strict=True):
        if value is None or message.key is None:
            out.append(message)
            continue
        heavy = heavy_of[value["customer_id"]]
        value["customer_id"] = heavy
        batch = pending.setdefault(heavy, [])
        batch.append(value)
        if len(batch) == plans[heavy][-1]:
            plans[heavy].pop()
            del pending[heavy]
            sent = _iso(message.timestamp_ms)
            for event in batch:
                event["sent_at"] = sent
            out.append(
                Message(heavy.encode(), orjson.dumps(batch), message.timestamp_ms, len(batch))
            )
    assert not pending, "every heavy customer's plan adds up to its events"
    return out


def paced(messages: Sequence[Message], rate: float) -> list[Message]:
    """The same messages in the same order, re-timed to offer ``rate`` events/s evenly.

    ``regroup`` sends a heavy customer's array when its last event happens. Journeys last
    longer than a latency run's stream, so most heavy customers fill up only at its end:
    in a 20 s stream of 100-event arrays, a third of the arrays fell into its last half
    second. A latency run at "half the maximum rate" then timed how fast a worker drains
    that burst. Here each message is timed when a steady ``rate`` reaches its first event,
    and an array's ``sent_at`` moves with it, so skew correction still leaves event times
    as they were (``regroup``'s rule). Other messages keep their bytes: after ``regroup``,
    those it left alone (not a JSON object with a customer, or without a key).
    """
    if not messages:
        return []
    start = messages[0].timestamp_ms
    out: list[Message] = []
    offered = 0
    for message in messages:
        at = start + int(offered * 1000 / rate)
        offered += message.events
        out.append(Message(message.key, _sent_at(message.value, at), at, message.events))
    return out


def _sent_at(value: bytes, at_ms: int) -> bytes:
    try:
        decoded = orjson.loads(value)
    except orjson.JSONDecodeError:
        return value
    if not isinstance(decoded, list):
        return value
    sent = _iso(at_ms)
    for event in decoded:
        if isinstance(event, dict):
            event["sent_at"] = sent
    return orjson.dumps(decoded)


@dataclass(frozen=True, slots=True)
class Variant:
    """One message shape of the same generated events."""

    name: str
    batch: int
    messages: list[Message]

    @property
    def events(self) -> int:
        return sum(m.events for m in self.messages)

    @property
    def mean_batch(self) -> float:
        return self.events / len(self.messages)

    @property
    def bytes(self) -> int:
        return sum(len(m.value) for m in self.messages)


def event_count(messages: Iterable[Message]) -> int:
    return sum(m.events for m in messages)


def without_accounts(messages: Sequence[Message]) -> list[Message]:
    """The same messages with ``account_id`` removed: no B2B account stage work at all."""
    out = []
    for message in messages:
        if b'"account_id"' not in message.value:
            out.append(message)
            continue
        decoded = orjson.loads(message.value)
        for item in decoded if isinstance(decoded, list) else [decoded]:
            if isinstance(item, dict):
                item.pop("account_id", None)
        out.append(
            Message(message.key, orjson.dumps(decoded), message.timestamp_ms, message.events)
        )
    return out
