"""Duplicate event ids are counted once, within the dedup window (docs/metrics.md#duplicates)."""

from __future__ import annotations

import pytest

from tests.unit.helpers import DAY, HOUR, Harness, ev

# --- duplicates ------------------------------------------------------------------------------


def test_duplicate_event_id_is_counted_once() -> None:
    h = Harness()
    order = ev("order", "ana", 0, revenue="30")
    h.send(order, order, ev("page_view", "ana", 1, event_id=order["event_id"]))
    assert h.total("tracker_events_total") == 1
    assert h.total("tracker_orders_total") == 1
    assert h.total("tracker_revenue_total") == 30
    assert h.total("tracker_events_dropped_total", reason="duplicate") == 2


def test_duplicates_inside_one_batch() -> None:
    h = Harness()
    view = ev("page_view", "ana", 0)
    h.send(view, view, ev("page_view", "ana", 5), batch=True)
    assert h.total("tracker_events_total") == 2
    assert h.total("tracker_events_dropped_total", reason="duplicate") == 1


def test_same_event_id_of_another_customer_is_no_duplicate() -> None:
    h = Harness()
    h.send(ev("page_view", "ana", 0, event_id="x"), ev("page_view", "bob", 0, event_id="x"))
    assert h.total("tracker_events_total") == 2


@pytest.mark.parametrize(
    ("later", "duplicate"),
    [(1 * HOUR, True), (1 * DAY, True), (1 * DAY + 0.001, False), (3 * DAY, False)],
)
def test_duplicate_window_is_24_hours_of_event_time(later: float, duplicate: bool) -> None:
    h = Harness()
    h.send(ev("page_view", "ana", 0, event_id="same"))
    h.send(ev("page_view", "ana", later, event_id="same"))
    assert h.total("tracker_events_dropped_total", reason="duplicate") == int(duplicate)
    assert h.total("tracker_events_total") == 2 - int(duplicate)


def test_duplicates_are_remembered_beyond_sixteen_ids() -> None:
    h = Harness()
    views = [ev("page_view", "ana", i) for i in range(40)]
    h.send(*views)
    h.send(*views[:5])
    assert h.total("tracker_events_dropped_total", reason="duplicate") == 5


def test_state_holds_hashes_not_event_ids() -> None:
    h = Harness()
    h.send(ev("page_view", "ana", 0, event_id="secret-event-id"))
    assert all(b"secret-event-id" not in (v or b"") for _, v in h.store.log)
    assert all(b"ana" not in k.encode() for k, _ in h.store.log)
