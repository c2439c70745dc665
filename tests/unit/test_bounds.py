"""Bounds of the contract (docs/contract.md#bounds): inside counts exactly, outside is rejected.

Out of range is never rounded or clamped: the event is an ``invalid_event`` whose dead
letter names the rule (``out_of_range:FIELD``). Zero-amount orders are orders.
"""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest
from pydantic import ValidationError

from tests.unit.helpers import Harness, ev
from tracker.core.bounds import MAX_SEND_DELAY_MS, REVENUE_MAX, rule_of
from tracker.core.contract import parse_event
from tracker.core.customer import decode_state
from tracker.core.memory_store import MemoryStore


def _rule(letter_headers: list[tuple[str, bytes]]) -> str:
    return dict(letter_headers).get("tracker-reject-rule", b"").decode()


def test_a_zero_amount_order_counts_as_an_order_with_revenue_zero() -> None:
    h = Harness()
    h.send(ev("page_view", "ana", 0), ev("order", "ana", 60, revenue="0.00"))
    h.close_all()
    assert h.letters == []
    assert h.total("tracker_orders_total") == 1
    assert h.total("tracker_sessions_converted_total") == 1
    assert h.total("tracker_revenue_total", currency="EUR") == 0
    assert h.total("tracker_events_rejected_total") == 0


@pytest.mark.parametrize(
    ("revenue", "rule"),
    [
        ("1e400", "out_of_range:revenue"),
        (1e30, "out_of_range:revenue"),
        (12345678901234567890, "out_of_range:revenue"),
        ("1000000000000.000001", "out_of_range:revenue"),
        ("0.0000001", "out_of_range:revenue"),
        ("-0.01", "out_of_range:revenue"),
        ("NaN", "invalid:revenue"),
    ],
)
def test_out_of_range_revenue_is_rejected_with_its_rule(revenue: object, rule: str) -> None:
    h = Harness()
    (letter,) = h.send(ev("order", "ana", 0, revenue=revenue))
    assert letter.reason == "invalid_event"
    assert _rule(letter.headers()) == rule
    assert h.total("tracker_events_rejected_total", reason="invalid_event") == 1
    assert h.total("tracker_orders_total") == 0


def test_the_largest_orders_sum_exactly_and_survive_a_restart() -> None:
    """Sums beyond 64 bits (in millionths) are written and restored without loss."""
    h = Harness()
    top = f"{REVENUE_MAX}.000000"
    orders = [ev("order", f"c{i}", i, revenue=top, currency="USD") for i in range(20)]
    h.send(*orders)
    h.p.flush()
    expected = 20 * REVENUE_MAX
    assert Decimal(str(h.p.aggregates.revenue["USD"])) == expected
    restored = h.cfg.processor(0, MemoryStore.replay(h.store.log))
    restored.recover(h.wall_ms)
    assert restored.aggregates.revenue["USD"] == expected
    assert sum(restored.aggregates.hists["revu:USD"].minutes.values()) == expected * 10**6


def test_revenue_window_gauges_are_exact_to_the_millionth() -> None:
    h = Harness()
    h.send(ev("order", "ana", 0, revenue="0.000001"), ev("order", "bo", 1, revenue="2.5"))
    assert h.gauge("tracker_revenue_window", window="1h", currency="EUR", channel="all") == 2.500001


@pytest.mark.parametrize(
    ("fields", "rule"),
    [
        ({"occurred_at": "1969-12-31T23:59:59Z"}, "out_of_range:occurred_at"),
        ({"customer_id": "x" * 129}, "out_of_range:customer_id"),
        ({"event_id": ""}, "out_of_range:event_id"),
        ({"properties": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": 1}}}}}}}}}, None),
        (
            {"properties": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": 1}}}}}}}}}},
            "out_of_range:properties",
        ),
        ({"channel": "tv"}, "invalid:channel"),
    ],
)
def test_field_bounds(fields: dict[str, object], rule: str | None) -> None:
    h = Harness()
    customer = str(fields.get("customer_id", "ana"))
    letters = h.send(ev("page_view", customer, 0, **fields), key=customer)
    if rule is None:
        assert letters == []
        assert h.total("tracker_events_total") == 1
    else:
        (letter,) = letters
        assert _rule(letter.headers()) == rule


def test_a_send_delay_beyond_a_year_is_out_of_range() -> None:
    h = Harness()
    late = ev("page_view", "ana", 0)
    late["sent_at"] = "2028-01-01T00:00:00Z"
    (letter,) = h.send(late, broker_at=0)
    assert _rule(letter.headers()) == "out_of_range:sent_at"
    assert MAX_SEND_DELAY_MS == 366 * 86_400_000


@pytest.mark.parametrize(
    ("sent_at", "rejected"),
    [
        ("2026-06-02T09:00:00.000999Z", False),  # 366 days and 0.999 ms: floors to 366 days
        ("2026-06-02T09:00:00.001Z", True),
        ("2026-06-02T11:00:00.000999+02:00", False),  # the same moments with an offset
        ("2026-06-02T11:00:00.001+02:00", True),
        ("2024-05-31T08:59:59.999-00:00", True),  # sent 366 days and 1 ms before it occurred
    ],
)
def test_the_send_delay_is_compared_in_whole_milliseconds(sent_at: str, rejected: bool) -> None:
    event = ev("page_view", "ana", 0)
    event["occurred_at"] = "2025-06-01T09:00:00Z"
    event["sent_at"] = sent_at
    try:
        parse_event(event)
    except ValidationError as exc:
        assert rejected, exc
        assert rule_of(exc.errors()[0]) == "out_of_range:sent_at"
    else:
        assert not rejected


@pytest.mark.parametrize("customer", ["a\x00b", "line\nbreak", "\u202eevil", "😀" * 128])
def test_ids_with_control_characters_are_counted_like_any_id(customer: str) -> None:
    h = Harness()
    h.send(ev("page_view", customer, 0), key=customer)
    assert h.letters == []
    assert h.total("tracker_events_total") == 1
    row = h.p.customer_row(customer)
    assert row is not None and customer.encode() not in orjson.dumps(row)
    assert decode_state(row["s"], h.p.rules.labels.touchpoints).last_seen_ms >= 0
