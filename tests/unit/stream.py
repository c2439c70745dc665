"""A deterministic, messy input stream for the crash tests.

Bursts of a few hours of event time, a day apart, from a few hundred customers:
batches, collector retries (the same message again), withdrawals and grants,
late and future events, skewed device clocks, malformed messages. Between
bursts the partitions are idle long enough for the idle rule to close sessions.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tests.unit.helpers import DAY, HOUR, MIN, T0_MS, encode, ev, iso, ms
from tracker.core.timestamps import to_ms

CHANNELS = ("web", "app", "social", "store", "email", "call_center", "partner")
TOUCHPOINTS = (
    "home",
    "product",
    "product:sku-1",
    "cart",
    "checkout",
    "payment",
    "search",
    "store:berlin",
    "survey",
    "blog",
    "account",
)
KINDS = ("page_view", "interaction", "page_ping", "order", "feedback", "grant", "withdrawal")
WEIGHTS = (40, 12, 15, 6, 5, 2, 2)


@dataclass(frozen=True, slots=True)
class Message:
    key: bytes | None
    value: bytes
    broker_ms: int
    wall_ms: int


# A schedule step: ("msg", index into messages) | ("tick", wall_ms) | ("flush",)
Step = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Stream:
    messages: list[Message]
    schedule: list[Step]
    end_wall_ms: int


def generate(seed: int, customers: int = 200, bursts: int = 4, per_burst: int = 450) -> Stream:
    rng = random.Random(seed)
    names = [f"cust-{seed}-{i:03d}" for i in range(customers)]
    messages: list[Message] = []
    schedule: list[Step] = []
    wall = 0

    def emit(key: bytes | None, value: bytes, broker: int) -> None:
        nonlocal wall
        wall = max(wall, broker)
        messages.append(Message(key, value, broker, wall))
        schedule.append(("msg", len(messages) - 1))
        if rng.random() < 0.03:
            schedule.append(("flush",))
        if rng.random() < 0.01:
            schedule.append(("tick", wall + rng.randint(0, 30_000)))  # housekeeping mid-burst

    for burst in range(bursts):
        start = burst * (DAY + rng.randint(0, 6) * HOUR)
        times = sorted(rng.uniform(0, 3 * HOUR) for _ in range(per_burst))
        for t in times:
            now = start + t
            customer = rng.choice(names)
            roll = rng.random()
            if roll < 0.04 and messages:  # a collector retry of an earlier message
                old = rng.choice(messages[-200:])
                emit(old.key, old.value, ms(now))
                continue
            if roll < 0.06:
                emit(customer.encode(), rng.choice([b"{", b"[]", b"42", b"\xff\xfe"]), ms(now))
                continue
            if roll < 0.07:
                emit(None, encode(event(rng, customer, now)), ms(now))
                continue
            count = rng.choice((2, 3, 4)) if roll < 0.22 else 1
            events = [event(rng, customer, now + i * rng.uniform(1, 90)) for i in range(count)]
            broker = ms(max(now, *(_at(e) for e in events)))
            for e in events:
                shape = rng.random()
                if shape < 0.05:  # late: long before the watermark
                    e["occurred_at"] = iso(now - rng.uniform(40 * MIN, 5 * HOUR))
                elif shape < 0.07:  # in the future of the broker clock
                    e["occurred_at"] = iso(_at_ms(broker) + 11 * MIN)
                elif shape < 0.12:  # device clock skewed; sent_at corrects it
                    skew = rng.uniform(-2 * HOUR, 2 * HOUR)
                    e["occurred_at"] = iso(_at(e) + skew)
                    e["sent_at"] = iso(_at(e) + rng.uniform(0, 20))
                elif shape < 0.14:
                    e["channel"] = "fax"  # invalid_event
                elif shape < 0.15:
                    e["customer_id"] = rng.choice(names)  # key_mismatch (mostly)
            value = encode(events if count > 1 or rng.random() < 0.1 else events[0])
            emit(customer.encode(), value, broker)
        if burst < bursts - 1:  # the stream ends mid-activity, with sessions open
            # A quiet evening: the idle rule moves the watermark and closes sessions.
            schedule.append(("tick", wall + 40 * MIN * 1000))
            schedule.append(("flush",))
            wall += 40 * MIN * 1000
    return Stream(messages, schedule, wall)


def event(rng: random.Random, customer: str, at: float) -> dict[str, Any]:
    kind = rng.choices(KINDS, WEIGHTS)[0]
    channel = rng.choice(CHANNELS)
    touchpoint = rng.choice(TOUCHPOINTS)
    if kind == "grant":
        return ev("consent", customer, at, channel=channel, touchpoint="consent_banner")
    if kind == "withdrawal":
        return ev("consent", customer, at, channel=channel, analytics=False)
    fields: dict[str, Any] = {"channel": channel, "touchpoint": touchpoint}
    if rng.random() < 0.02:
        fields["consent"] = {"analytics": False, "marketing": True}
    if kind == "interaction":
        fields["action"] = rng.choice(("search", "add_to_cart", "dance"))
    elif kind == "order":
        cents = rng.randint(0, 50_000)
        revenue: Any = f"{cents // 100}.{cents % 100:02d}" if rng.random() < 0.5 else cents / 100
        fields.update(revenue=revenue, currency=rng.choice(("EUR", "USD", "JPY")))
    elif kind == "feedback":
        answer = rng.choice(("nps", "csat", "ces", "comment"))
        if answer == "nps":
            fields["nps"] = rng.randint(0, 10)
        elif answer == "csat":
            fields["csat"] = rng.randint(1, 5)
        elif answer == "ces":
            fields["ces"] = rng.randint(1, 7)
        else:
            fields["comment"] = rng.choice(("good", "bad", "ok", "gut", "schlecht"))
            fields["language"] = rng.choice(("de", "en"))
    return ev(kind, customer, at, **fields)


def _at(event: dict[str, Any]) -> float:
    """Seconds after T0 of an event's occurred_at."""
    return (to_ms(datetime.fromisoformat(event["occurred_at"])) - T0_MS) / 1000


def _at_ms(broker_ms: int) -> float:
    return (broker_ms - T0_MS) / 1000
