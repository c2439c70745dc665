"""Out-of-order and late events, and the watermark's idle rule, in one partition.

See docs/metrics.md#watermark and docs/metrics.md#late-events.
"""

from __future__ import annotations

from tests.unit.helpers import HOUR, MIN, Harness, encode, ev, ms

# --- out of order and late ------------------------------------------------------------------


def test_earlier_event_moves_start_and_entry_channel() -> None:
    h = Harness()
    h.send(ev("page_view", "ana", 10 * MIN, channel="app", touchpoint="app"))
    h.send(ev("page_view", "ana", 5 * MIN, channel="social", touchpoint="social"))
    state = h.state("ana")
    assert state is not None and state.session is not None
    assert state.session.start_ms == ms(5 * MIN)
    h.close_all()
    # Started is counted when the session opens and never undone; closed uses the entry channel.
    assert h.total("tracker_sessions_started_total", channel="app") == 1
    assert h.total("tracker_sessions_closed_total", channel="social") == 1
    assert h.total("tracker_sessions_closed_total", channel="app") == 0
    assert h.total("tracker_journey_transitions_total", from_touchpoint="social") == 1


def test_earlier_event_within_gap_before_start_extends_the_session() -> None:
    h = Harness()
    h.send(ev("page_view", "ana", 40 * MIN))
    h.send(ev("page_view", "ana", 10 * MIN))  # exactly one gap before the start
    assert h.total("tracker_sessions_started_total") == 1
    assert h.total("tracker_events_late_total") == 0


def late_setup() -> Harness:
    """ana has a session at 0; bob moves the watermark to 2 h - 10 s."""
    h = Harness()
    h.send(ev("page_view", "ana", 0), ev("page_view", "bob", 2 * HOUR))
    assert h.p.watermark_ms == ms(2 * HOUR - 10)
    return h


def test_event_older_than_watermark_minus_gap_is_late() -> None:
    h = late_setup()
    late_at = 2 * HOUR - 10 - 30 * MIN - 0.001
    h.send(
        ev("order", "ana", late_at, revenue="12.50", channel="app"),
        broker_at=2 * HOUR,
    )
    assert h.gauge("tracker_reach", window="1h", channel="app") == 1
    h.close_all()
    assert h.total("tracker_events_late_total") == 1
    # Late events count in events, orders, revenue and reach ...
    assert h.total("tracker_events_total", event_type="order", channel="app") == 1
    assert h.total("tracker_orders_total", channel="app") == 1
    assert h.total("tracker_revenue_total", currency="EUR") == 12.5
    # ... but not in sessions.
    assert h.total("tracker_sessions_started_total") == 2
    assert h.total("tracker_sessions_converted_total") == 0


def test_event_exactly_at_watermark_minus_gap_is_not_late() -> None:
    h = late_setup()
    h.send(ev("page_view", "carl", 2 * HOUR - 10 - 30 * MIN), broker_at=2 * HOUR)
    assert h.total("tracker_events_late_total") == 0
    assert h.total("tracker_sessions_started_total") == 3


def test_event_more_than_a_gap_before_an_open_session_start_is_late() -> None:
    h = Harness()
    h.send(ev("page_view", "ana", 3 * HOUR))  # watermark 3 h - 10 s
    h.send(ev("page_view", "ana", 2 * HOUR + 29 * MIN + 55), broker_at=3 * HOUR)
    assert h.total("tracker_events_late_total") == 1
    assert h.total("tracker_events_total") == 2
    assert h.total("tracker_sessions_started_total") == 1


def test_late_ping_and_late_feedback_are_late_too() -> None:
    h = late_setup()
    h.send(ev("page_ping", "ana", 10 * MIN), ev("feedback", "ana", 10 * MIN, nps=10))
    assert h.total("tracker_events_late_total") == 2
    assert h.total("tracker_nps_responses_total", category="promoter") == 1


def test_consent_events_are_never_late() -> None:
    h = late_setup()
    h.send(ev("consent", "ana", 1 * MIN))
    assert h.total("tracker_events_late_total") == 0
    assert h.total("tracker_events_total", event_type="consent") == 1


def test_watermark_is_highest_event_time_minus_out_of_orderness() -> None:
    h = Harness(max_out_of_order=30)
    assert h.p.watermark_ms == 0
    h.send(ev("page_view", "ana", 100), ev("page_view", "bob", 50))
    assert h.p.watermark_ms == ms(70)


def test_session_closes_only_when_the_watermark_passes_last_plus_gap() -> None:
    h = Harness()
    h.send(ev("page_view", "ana", 0))
    h.send(ev("page_view", "bob", 30 * MIN + 10))  # watermark = ana's last + gap exactly
    assert h.total("tracker_sessions_closed_total") == 0
    h.send(ev("page_view", "bob", 30 * MIN + 10.001))
    assert h.total("tracker_sessions_closed_total") == 1
    assert h.gauge("tracker_sessions_active", channel="web") == 1


# --- idle rule -------------------------------------------------------------------------------


def test_idle_partition_watermark_follows_the_wall_clock() -> None:
    h = Harness()
    h.send(ev("page_view", "ana", 0))
    wall = ms(0)
    h.tick(wall + 59_999)
    assert h.p.watermark_ms == ms(-10)
    h.tick(wall + 31 * 60_000)
    assert h.p.watermark_ms == wall + 31 * 60_000 - 10_000
    assert h.total("tracker_sessions_closed_total") == 1
    assert h.gauge("tracker_sessions_active", channel="web") == 0


def test_idle_watermark_never_moves_backwards() -> None:
    h = Harness()
    # Replayed history: event times lie in the wall clock's future.
    h.raw("ana", encode(ev("page_view", "ana", 2 * HOUR)), ms(2 * HOUR), wall_ms=ms(0))
    h.tick(ms(10 * MIN))  # idle, but the wall clock is behind the event time
    assert h.p.watermark_ms == ms(2 * HOUR - 10)
    h.tick(ms(3 * HOUR))
    high = h.p.watermark_ms
    assert high == ms(3 * HOUR - 10)
    h.tick(ms(2 * HOUR + 40 * MIN))
    assert h.p.watermark_ms == high


def test_idle_rule_needs_a_first_record() -> None:
    h = Harness()
    h.tick(ms(5 * HOUR))
    assert h.p.watermark_ms == 0


def test_idle_timeout_counts_from_the_last_input() -> None:
    h = Harness(idle_timeout=600)
    h.send(ev("page_view", "ana", 0))
    h.send(ev("page_view", "bob", 0), broker_at=8 * MIN)  # wall clock 8 min
    h.tick(ms(17 * MIN))
    assert h.p.watermark_ms == ms(-10)
    h.tick(ms(18 * MIN))
    assert h.p.watermark_ms == ms(18 * MIN - 10)
