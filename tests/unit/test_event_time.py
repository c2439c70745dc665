"""Event time: future timestamps and device clock skew (docs/metrics.md#event-time)."""

from __future__ import annotations

from tests.unit.helpers import HOUR, MIN, Harness, ev, iso, ms

# --- future timestamps and clock skew --------------------------------------------------------


def test_event_up_to_ten_minutes_after_broker_time_is_accepted() -> None:
    h = Harness()
    h.send(ev("page_view", "ana", 10 * MIN), broker_at=0)
    assert h.total("tracker_events_total") == 1


def test_event_more_than_ten_minutes_after_broker_time_is_rejected() -> None:
    h = Harness()
    event = ev("page_view", "ana", 10 * MIN + 0.001)
    letters = h.send(event, broker_at=0)
    assert [x.reason for x in letters] == ["future_timestamp"]
    assert h.total("tracker_events_rejected_total", reason="future_timestamp") == 1
    assert h.total("tracker_events_total") == 0
    # Rejected before de-duplication: the same id with a sane time still counts.
    h.send({**event, "occurred_at": iso(0)}, broker_at=0)
    assert h.total("tracker_events_total") == 1


def test_future_check_comes_after_the_consent_gate() -> None:
    h = Harness()
    h.send(ev("page_view", "ana", 5 * HOUR, analytics=False), broker_at=0)
    assert h.counters() == {
        "tracker_events_dropped_total|no_consent": 1,
        "tracker_events_received_total": 1,
    }


def test_sent_at_corrects_device_clock_skew() -> None:
    h = Harness()
    # The device clock is an hour ahead; it sent the event 5 s after it happened.
    event = ev("page_view", "ana", 1 * HOUR, sent_at=iso(1 * HOUR + 5))
    h.send(event, broker_at=0)
    assert h.total("tracker_events_total") == 1
    state = h.state("ana")
    assert state is not None and state.session is not None
    assert state.session.start_ms == ms(-5)  # broker - (sent - occurred)
    assert state.last_seen_ms == ms(-5)


def test_sent_at_skew_correction_applies_before_the_future_check() -> None:
    h = Harness()
    ok = ev("page_view", "ana", 0, sent_at=iso(-10 * MIN))  # sent 10 min "before" it happened
    bad = ev("page_view", "ana", 0, sent_at=iso(-10 * MIN - 0.001))
    h.send(ok, broker_at=3 * HOUR)
    assert h.send(bad, broker_at=3 * HOUR)[0].reason == "future_timestamp"


def test_history_replayed_with_sent_at_as_broker_time_keeps_its_times() -> None:
    h = Harness()
    h.send(ev("page_view", "ana", 0, sent_at=iso(2)), broker_at=2)
    assert h.p.watermark_ms == ms(-10)
