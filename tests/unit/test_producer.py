"""tracker.producer and tracker send, without a broker: typed events, batching, validation."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from pydantic import ValidationError

from tracker.cli.send import read_events
from tracker.core.batching import pack
from tracker.producer import Order, encode, new_event

CONSENT = {"analytics": True, "marketing": False}
AT = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


def order(customer: str, n: int) -> Order:
    event = new_event(
        "order", at=AT, customer_id=customer, channel="store", touchpoint="checkout",
        consent=CONSENT, order_id=f"o-{n}", revenue="42.50", currency="EUR",
    )  # fmt: skip
    assert isinstance(event, Order)
    return event


def test_new_event_fills_what_a_backend_does_not_know_and_validates_the_rest() -> None:
    first, second = order("c-17", 1), order("c-17", 2)
    assert first.schema_version == 1 and first.occurred_at == AT
    assert first.event_id != second.event_id, "a fresh id per event"
    with pytest.raises(ValidationError):
        new_event("order", customer_id="c-17", channel="store", touchpoint="checkout",
                  consent=CONSENT, order_id="o", revenue="-1", currency="EUR")  # fmt: skip


def test_events_go_one_message_per_customer_within_the_limits() -> None:
    events = [order("ana", 1), order("ben", 2), order("ana", 3), order("ana", 4)]
    values = encode(events, max_events=2, max_bytes=1_000_000)
    assert sorted(values) == ["ana", "ben"]
    assert [len(orjson.loads(v)) for v in values["ana"]] == [2, 1]
    ids = [e["order_id"] for v in values["ana"] for e in orjson.loads(v)]
    assert ids == ["o-1", "o-3", "o-4"], "a customer's events stay in order"
    decoded = orjson.loads(values["ben"][0])[0]
    assert decoded["revenue"] == "42.50" and "account_id" not in decoded


def test_pack_never_crosses_the_byte_limit() -> None:
    encoded = [b'{"e":"' + b"x" * 90 + b'"}'] * 10
    packed = list(pack(encoded, max_events=100, max_bytes=300))
    assert all(len(value) <= 300 for value, _ in packed)
    assert sum(count for _, count in packed) == 10


def test_send_reads_lines_fills_ids_and_names_every_bad_line() -> None:
    good = {"event_type": "page_view", "customer_id": "c-1", "channel": "web",
            "touchpoint": "home", "consent": CONSENT}  # fmt: skip
    lines = [
        orjson.dumps(good),
        orjson.dumps([good, {**good, "event_id": "fixed"}]),
        b"",
        b"{not json",
        orjson.dumps({**good, "channel": "fax"}),
    ]
    events, problems = read_events(lines, fill=True, now=AT)
    assert len(events) == 3 and events[2].event_id == "fixed"
    assert all(e.occurred_at == AT for e in events)
    assert [p.split(":")[0] for p in problems] == ["line 4", "line 5"]
    assert "channel" in problems[1]
    events, problems = read_events([orjson.dumps(good)], fill=False, now=AT)
    assert events == [] and "line 1" in problems[0]


def test_tracker_send_is_a_registered_command() -> None:
    from tracker.cli import main

    assert "send" in main.commands  # type: ignore[attr-defined]
