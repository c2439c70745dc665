"""Hostile input for the worker: a seeded fuzz of broken messages mixed into a good stream.

Pure and deterministic (``random.Random(seed)``): the same seed gives the same bytes,
so the expected metrics come from feeding the very same messages, good and bad,
through the reference pipeline. Every bad message takes the record timestamp of
the good message before it, so watermarks move as they would with real clients.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

import orjson

from tracker.testing.traffic import Message

DISTINCT_TOUCHPOINTS = 10_000
HOT_ID = "kiosk-hostile-01"
_ANCIENT = ("1970-01-01T00:00:00Z", "0001-01-01T00:00:00+00:00", "1999-12-31T23:59:59-12:00")
_FUTURE = ("9999-12-31T23:59:59Z",)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


class Fuzzer:
    """Builds one kind of bad message at a time, for a fuzz customer of its own."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.serial = 0

    def customer(self) -> str:
        return f"fuzz-{self.rng.randrange(3000):04d}"

    def event(self, customer: str, at_ms: int, **extra: Any) -> dict[str, Any]:
        self.serial += 1
        event: dict[str, Any] = {
            "schema_version": 1,
            "event_id": f"fz-{self.serial}-{self.rng.getrandbits(32):08x}",
            "event_type": "page_view",
            "customer_id": customer,
            "occurred_at": _iso(at_ms),
            "channel": self.rng.choice(("web", "app", "store")),
            "touchpoint": self.rng.choice(("home", "product", "cart")),
            "consent": {"analytics": True, "marketing": False},
        }
        event.update(extra)
        return event

    # --- kinds: each returns (key, value) -------------------------------------------
    def malformed_json(self, at_ms: int) -> tuple[bytes | None, bytes]:
        c = self.customer()
        good = orjson.dumps(self.event(c, at_ms))
        choice = self.rng.randrange(4)
        if choice == 0:
            return c.encode(), good[: self.rng.randrange(1, len(good) - 1)]  # cut off
        if choice == 1:
            return c.encode(), bytes(
                self.rng.getrandbits(8) for _ in range(self.rng.randrange(1, 200))
            )
        if choice == 2:
            return c.encode(), good.replace(b":", b"=", 1)
        return c.encode(), b"{" * self.rng.randrange(1, 50)

    def invalid_utf8(self, at_ms: int) -> tuple[bytes | None, bytes]:
        c = self.customer()
        good = orjson.dumps(self.event(c, at_ms, touchpoint="home"))
        cut = good.index(b'"home"') + 2
        bad = self.rng.choice((b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"))
        return c.encode(), good[:cut] + bad + good[cut:]

    def not_an_event(self, at_ms: int) -> tuple[bytes | None, bytes]:
        c = self.customer()
        return c.encode(), self.rng.choice((b"42", b'"hello"', b"null", b"true", b"[]", b"", b"{}"))

    def wrong_types(self, at_ms: int) -> tuple[bytes | None, bytes]:
        c = self.customer()
        field, value = self.rng.choice(
            (
                ("schema_version", "1"),
                ("schema_version", 2),
                ("event_id", 12345),
                ("event_id", ""),
                ("occurred_at", 1714800000),
                ("occurred_at", "yesterday"),
                ("occurred_at", "2026-05-04T10:00:00"),  # no offset
                ("channel", "fax"),
                ("channel", 7),
                ("touchpoint", "Home Page!"),
                ("touchpoint", None),
                ("consent", "yes"),
                ("consent", {"analytics": "true", "marketing": False}),
                ("properties", [1, 2, 3]),
                ("event_type", "teleport"),
                ("event_type", None),
                ("surprise", "an unknown field"),
                ("customer_id", None),
                ("referrer", {"url": "x"}),
            )
        )
        return c.encode(), orjson.dumps(self.event(c, at_ms, **{field: value}))

    def wrong_order_or_feedback(self, at_ms: int) -> tuple[bytes | None, bytes]:
        c = self.customer()
        variants: list[dict[str, Any]] = [
            {"event_type": "order", "order_id": "o1", "revenue": [10], "currency": "EUR"},
            {"event_type": "order", "order_id": "o1", "revenue": "-5", "currency": "EUR"},
            {"event_type": "order", "order_id": "o1", "revenue": "NaN", "currency": "EUR"},
            {"event_type": "order", "order_id": "o1", "revenue": "12.50", "currency": "eur"},
            {"event_type": "feedback", "nps": 11},
            {"event_type": "feedback", "nps": "ten"},
            {"event_type": "feedback", "csat": 4.5},
            {"event_type": "feedback"},
            {"event_type": "feedback", "comment": "great", "language": "fr"},
            {"event_type": "interaction"},
        ]
        return c.encode(), orjson.dumps(self.event(c, at_ms, **self.rng.choice(variants)))

    def huge_strings(self, at_ms: int) -> tuple[bytes | None, bytes]:
        c = self.customer()
        size = self.rng.choice((5_000, 70_000, 300_000))
        field = self.rng.choice(("touchpoint", "referrer", "campaign", "event_id", "comment"))
        extra: dict[str, Any] = {field: "a" * size}
        if field == "comment":
            extra.update(event_type="feedback", language="en")
        return c.encode(), orjson.dumps(self.event(c, at_ms, **extra))

    def near_size_limit(self, at_ms: int) -> tuple[bytes | None, bytes]:
        """Just under the broker's 1 MiB message limit, so its dead letter is as large."""
        c = self.customer()
        body = orjson.dumps(self.event(c, at_ms, referrer=""))
        return c.encode(), body.replace(b'"referrer":""', b'"referrer":"' + b"r" * 1_040_000 + b'"')

    def deep_nesting(self, at_ms: int) -> tuple[bytes | None, bytes]:
        c = self.customer()
        depth = self.rng.choice((30, 300, 5_000, 50_000))
        if self.rng.random() < 0.5:
            nested = b'{"a":' * depth + b"1" + b"}" * depth
            body = orjson.dumps(self.event(c, at_ms, properties={"x": 0}))
            return c.encode(), body.replace(b'{"x":0}', nested)
        return c.encode(), b"[" * depth + b"]" * depth

    def wrong_key(self, at_ms: int) -> tuple[bytes | None, bytes]:
        c = self.customer()
        key = self.rng.choice(
            (None, b"", b"someone-else", b"\xff\xfe", b"k" * 200, (c + " ").encode())
        )
        return key, orjson.dumps(self.event(c, at_ms))

    def mixed_batch(self, at_ms: int) -> tuple[bytes | None, bytes]:
        c = self.customer()
        items: list[Any] = [self.event(c, at_ms + i) for i in range(self.rng.randrange(2, 6))]
        items.insert(self.rng.randrange(len(items)), self.rng.choice((42, "x", None, [], {})))
        items.append(self.event(self.customer(), at_ms))  # someone else's event in the batch
        return c.encode(), orjson.dumps(items)

    def oversized_batch(self, at_ms: int) -> tuple[bytes | None, bytes]:
        c = self.customer()
        return c.encode(), orjson.dumps([self.event(c, at_ms + i) for i in range(501)])

    def future(self, at_ms: int) -> tuple[bytes | None, bytes]:
        c = self.customer()
        ahead = self.rng.choice(
            (
                _iso(at_ms + 11 * 60_000),
                _iso(at_ms + 365 * 86_400_000),
                self.rng.choice(_FUTURE),
            )
        )
        return c.encode(), orjson.dumps(self.event(c, at_ms, occurred_at=ahead))

    def ancient(self, at_ms: int) -> tuple[bytes | None, bytes]:
        c = self.customer()
        return c.encode(), orjson.dumps(self.event(c, at_ms, occurred_at=self.rng.choice(_ANCIENT)))

    def no_consent_broken(self, at_ms: int) -> tuple[bytes | None, bytes]:
        """Explicitly without analytics consent: dropped uncounted even though malformed."""
        c = self.customer()
        event = self.event(c, at_ms, consent={"analytics": False, "marketing": False})
        event["channel"] = 12
        return c.encode(), orjson.dumps(event)

    def unreadable_consent(self, at_ms: int) -> tuple[bytes | None, bytes]:
        """Consent missing, null, empty or malformed (and the rest broken too): no_consent."""
        c = f"{self.customer()}@example.com"
        consent = self.rng.choice((None, {}, {"analytics": "true"}, {"marketing": True}, [True]))
        event = self.event(c, at_ms, consent=consent, channel=self.rng.choice(("web", 12)))
        if consent is None and self.rng.random() < 0.5:
            del event["consent"]
        return c.encode(), orjson.dumps(event)

    def hot_identifier(self, at_ms: int) -> tuple[bytes | None, bytes]:
        """One id sending far more than a person could (a kiosk, a bot): bounded state."""
        return HOT_ID.encode(), orjson.dumps(self.event(HOT_ID, at_ms, channel="store"))

    def many_touchpoints(self, at_ms: int, index: int) -> tuple[bytes | None, bytes]:
        c = f"tp-{index % 2000:04d}"
        event = self.event(c, at_ms, touchpoint=f"tp-{index}", channel="web")
        if index % 3 == 0:
            event.update(event_type="interaction", action=f"act-{index}")
        return c.encode(), orjson.dumps(event)


Kind = Callable[[Fuzzer, int], tuple[bytes | None, bytes]]
KINDS: dict[str, tuple[Kind, int]] = {
    "malformed_json": (Fuzzer.malformed_json, 150),
    "invalid_utf8": (Fuzzer.invalid_utf8, 60),
    "not_an_event": (Fuzzer.not_an_event, 40),
    "wrong_types": (Fuzzer.wrong_types, 200),
    "wrong_order_or_feedback": (Fuzzer.wrong_order_or_feedback, 80),
    "huge_strings": (Fuzzer.huge_strings, 30),
    "near_size_limit": (Fuzzer.near_size_limit, 2),
    "deep_nesting": (Fuzzer.deep_nesting, 40),
    "wrong_key": (Fuzzer.wrong_key, 80),
    "mixed_batch": (Fuzzer.mixed_batch, 40),
    "oversized_batch": (Fuzzer.oversized_batch, 3),
    "future": (Fuzzer.future, 60),
    "ancient": (Fuzzer.ancient, 60),
    "no_consent_broken": (Fuzzer.no_consent_broken, 30),
    "unreadable_consent": (Fuzzer.unreadable_consent, 60),
    # More events than the de-duplication memory holds and a journey records.
    "hot_identifier": (Fuzzer.hot_identifier, 700),
}


def _touchpoint_builder(fuzz: Fuzzer, index: int, at_ms: int) -> tuple[bytes | None, bytes]:
    return fuzz.many_touchpoints(at_ms, index)


def hostile_stream(
    seed: int, good: Sequence[Message], duplicates: int = 300
) -> tuple[list[Message], Counter[str]]:
    """``good`` with every kind of bad message, duplicates and 10,000 touchpoints mixed in."""
    rng = random.Random(seed)
    fuzz = Fuzzer(rng)
    bad: list[tuple[str, Callable[[int], tuple[bytes | None, bytes]]]] = []
    for kind, (builder, count) in KINDS.items():
        bad.extend((kind, partial(builder, fuzz)) for _ in range(count))
    bad.extend(
        ("distinct_touchpoints", partial(_touchpoint_builder, fuzz, i))
        for i in range(DISTINCT_TOUCHPOINTS)
    )
    rng.shuffle(bad)
    copies = set(rng.sample(range(len(good)), duplicates))
    slots = sorted(rng.randrange(len(good)) for _ in bad)
    out: list[Message] = []
    kinds: Counter[str] = Counter()
    next_bad = 0
    for index, message in enumerate(good):
        out.append(message)
        if index in copies:  # a collector retry: the same message again
            out.append(message)
            kinds["duplicate_message"] += 1
        while next_bad < len(bad) and slots[next_bad] == index:
            name, make = bad[next_bad]
            key, value = make(message.timestamp_ms)
            out.append(Message(key, value, message.timestamp_ms, 1))
            kinds[name] += 1
            next_bad += 1
    return out, kinds


def reused_ids(messages: Sequence[Message]) -> int:
    """Events whose id appeared before for the same message key (for the report)."""
    seen: set[tuple[bytes | None, str]] = set()
    repeats = 0
    for message in messages:
        try:
            decoded = orjson.loads(message.value)
        except orjson.JSONDecodeError:
            continue
        items = decoded if isinstance(decoded, list) else [decoded]
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("event_id"), str):
                mark = (message.key, item["event_id"])
                repeats += mark in seen
                seen.add(mark)
    return repeats
