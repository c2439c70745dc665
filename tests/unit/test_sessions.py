"""Sessions, watermark, late and duplicate events (docs/metrics.md#sessions), in one partition."""

from __future__ import annotations

import pytest

from tests.unit.helpers import DAY, HOUR, MIN, Harness, encode, ev, iso, ms


def outcomes(h: Harness) -> dict[str, float]:
    """Session counters summed over channels, after every session closed."""
    h.close_all()
    names = ("started", "closed", "bounced", "engaged", "interacted", "converted")
    return {n: h.total(f"tracker_sessions_{n}_total") for n in names}


def started(h: Harness) -> float:
    return h.total("tracker_sessions_started_total")


# --- gap and maximum duration ----------------------------------------------------------


def test_event_exactly_one_gap_after_the_last_joins_the_session() -> None:
    h = Harness()
    h.send(ev("page_view", "ana", 0), ev("page_view", "ana", 30 * MIN))
    assert started(h) == 1
    assert outcomes(h)["closed"] == 1


def test_event_one_millisecond_more_than_the_gap_starts_a_new_session() -> None:
    h = Harness()
    h.send(ev("page_view", "ana", 0), ev("page_view", "ana", 30 * MIN + 0.001))
    assert started(h) == 2
    result = outcomes(h)
    assert result["closed"] == 2
    assert result["bounced"] == 2  # one page view each


def test_gap_is_measured_from_the_last_event_not_the_start() -> None:
    h = Harness()
    h.send(*[ev("page_view", "ana", i * 25 * MIN) for i in range(5)])  # 100 minutes
    assert outcomes(h) == {
        "started": 1,
        "closed": 1,
        "bounced": 0,
        "engaged": 1,
        "interacted": 0,
        "converted": 0,
    }


def test_session_gap_is_configurable() -> None:
    h = Harness(session_gap=600)
    h.send(ev("page_view", "ana", 0), ev("page_view", "ana", 10 * MIN + 1))
    assert started(h) == 2


def test_a_session_never_reaches_24_hours() -> None:
    h = Harness()
    # Every 20 minutes for a day: never a gap, but the event at start + 24 h opens a new one.
    h.send(*[ev("page_view", "ana", i * 20 * MIN) for i in range(72)])
    assert started(h) == 1
    h.send(ev("page_view", "ana", 24 * HOUR - 0.001))
    assert started(h) == 1
    h.send(ev("page_view", "ana", 24 * HOUR))
    assert started(h) == 2
    assert outcomes(h)["closed"] == 2


def test_watermark_past_start_plus_24_hours_closes_the_session() -> None:
    h = Harness()
    h.send(*[ev("page_view", "ana", i * 20 * MIN) for i in range(72)])  # last at 23:40
    # Another customer moves the watermark to start + 24 h; ana's last event is 20 min old.
    h.send(ev("page_view", "bob", 24 * HOUR + 10))
    assert h.total("tracker_sessions_closed_total") == 1
    assert h.gauge("tracker_sessions_active", channel="web") == 1  # bob only


def test_no_split_at_midnight_or_on_campaign_change() -> None:
    h = Harness()
    midnight = 15 * HOUR  # T0 is 09:00 UTC
    h.send(
        ev("page_view", "ana", midnight - 5 * MIN, campaign="spring"),
        ev("page_view", "ana", midnight + 5 * MIN, campaign="summer"),
    )
    assert iso(midnight).startswith("2026-05-05T00:00")
    assert started(h) == 1


def test_sessions_span_channels_and_count_under_the_entry_channel() -> None:
    h = Harness()
    h.send(
        ev("page_view", "ana", 0, channel="email", touchpoint="email"),
        ev("page_view", "ana", 1 * MIN, channel="web"),
        ev("order", "ana", 2 * MIN, channel="app"),
    )
    h.close_all()
    assert h.total("tracker_sessions_started_total", channel="email") == 1
    assert h.total("tracker_sessions_converted_total", channel="email") == 1
    assert h.total("tracker_sessions_closed_total") == 1
    assert h.total("tracker_orders_total", channel="app") == 1  # the order's own channel
    assert h.total("tracker_events_total", event_type="page_view", channel="web") == 1
    assert h.total("tracker_sessions_multichannel_total", channel="email") == 1


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
    assert started(h) == 1
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
    assert started(h) == 3


def test_event_more_than_a_gap_before_an_open_session_start_is_late() -> None:
    h = Harness()
    h.send(ev("page_view", "ana", 3 * HOUR))  # watermark 3 h - 10 s
    h.send(ev("page_view", "ana", 2 * HOUR + 29 * MIN + 55), broker_at=3 * HOUR)
    assert h.total("tracker_events_late_total") == 1
    assert h.total("tracker_events_total") == 2
    assert started(h) == 1


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


# --- pings and consent events ---------------------------------------------------------------


def test_pings_alone_never_start_a_session() -> None:
    h = Harness()
    h.send(*[ev("page_ping", "ana", i * 10) for i in range(6)])
    result = outcomes(h)
    assert result["started"] == 0 and result["closed"] == 0
    assert h.total("tracker_events_total", event_type="page_ping") == 6
    assert h.total("tracker_reach", window="28d", channel="all") == 0  # all windows closed now


def test_ping_only_customer_is_reached() -> None:
    h = Harness()
    h.send(ev("page_ping", "ana", 0))
    assert h.gauge("tracker_reach", window="1h", channel="all") == 1
    assert started(h) == 0


def test_pings_extend_an_open_session() -> None:
    h = Harness()
    h.send(
        ev("page_view", "ana", 0),
        ev("page_ping", "ana", 25 * MIN),
        ev("page_view", "ana", 50 * MIN),  # 50 min after the view, 25 after the ping
    )
    assert outcomes(h)["started"] == 1


def test_ping_after_the_session_ended_neither_extends_nor_starts() -> None:
    h = Harness()
    h.send(ev("page_view", "ana", 0), ev("page_ping", "ana", 31 * MIN))
    result = outcomes(h)
    assert result["started"] == 1
    assert result["engaged"] == 0


@pytest.mark.parametrize(("ping_after", "engaged"), [(9.999, 0), (10, 1)])
def test_pings_count_for_the_ten_second_rule(ping_after: float, engaged: int) -> None:
    h = Harness()
    h.send(ev("page_view", "ana", 0), ev("page_ping", "ana", ping_after))
    result = outcomes(h)
    assert result["engaged"] == engaged
    assert result["bounced"] == 1  # pings never change bounced


def test_consent_events_never_start_or_extend_a_session() -> None:
    h = Harness()
    h.send(ev("consent", "ana", 0))
    assert started(h) == 0
    h.send(
        ev("page_view", "ana", 1 * MIN),
        ev("consent", "ana", 30 * MIN),
        ev("page_view", "ana", 60 * MIN),
    )
    result = outcomes(h)
    assert result["started"] == 2
    assert result["engaged"] == 0  # the consent event did not stretch the first one
    assert h.total("tracker_events_total", event_type="consent") == 2


# --- outcomes ------------------------------------------------------------------------------


SESSION_CASES = {
    "one page view": ([("page_view", 0)], {"bounced": 1}),
    "two page views": ([("page_view", 0), ("page_view", 3)], {"engaged": 1}),
    "page view and interaction": (
        [("page_view", 0), ("interaction", 2)],
        {"engaged": 1, "interacted": 1},
    ),
    "interaction only": ([("interaction", 0)], {"engaged": 1, "interacted": 1}),
    "order only": ([("order", 0)], {"engaged": 1, "converted": 1}),
    "feedback only": ([("feedback", 0)], {"bounced": 1}),
    "page view and feedback": ([("page_view", 0), ("feedback", 5)], {"bounced": 1}),
    "one page view, long": ([("page_view", 0), ("feedback", 10)], {"bounced": 1, "engaged": 1}),
    "everything": (
        [("page_view", 0), ("interaction", 1), ("page_view", 2), ("order", 3)],
        {"engaged": 1, "interacted": 1, "converted": 1},
    ),
}


@pytest.mark.parametrize("case", SESSION_CASES)
def test_session_outcome_definitions(case: str) -> None:
    events, expected = SESSION_CASES[case]
    h = Harness()
    h.send(*[ev(kind, "ana", at) for kind, at in events])
    result = outcomes(h)
    for name in ("bounced", "engaged", "interacted", "converted"):
        assert result[name] == expected.get(name, 0), name
    assert result["started"] == result["closed"] == 1


def test_outcomes_are_counted_when_the_session_closes() -> None:
    h = Harness()
    h.send(ev("page_view", "ana", 0), ev("order", "ana", 1))
    assert h.total("tracker_sessions_converted_total") == 0
    assert h.gauge("tracker_sessions_active", channel="web") == 1
    h.close_all()
    assert h.total("tracker_sessions_converted_total", channel="web") == 1
    assert h.gauge("tracker_sessions_active", channel="web") == 0


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
    assert h.counters() == {"tracker_events_dropped_total|no_consent": 1}


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


# --- money ---------------------------------------------------------------------------------


def test_revenue_is_summed_exactly_as_decimal() -> None:
    h = Harness()
    h.send(*[ev("order", "ana", i, revenue=0.1) for i in range(3)])
    h.send(ev("order", "bob", 0, revenue="0.20"), ev("order", "bob", 1, revenue="1e-2"))
    from decimal import Decimal

    assert h.p.aggregates.revenue == {"EUR": Decimal("0.51")}
    assert h.total("tracker_revenue_total", currency="EUR") == 0.51


def test_currencies_outside_the_list_are_other() -> None:
    h = Harness()
    h.send(
        ev("order", "ana", 0, revenue="100", currency="JPY"),
        ev("order", "ana", 1, revenue="5", currency="CHF"),
    )
    assert h.total("tracker_revenue_total", currency="other") == 100
    assert h.total("tracker_revenue_total", currency="CHF") == 5
    assert h.total("tracker_revenue_total", currency="JPY") == 0


def test_orders_are_deduplicated_by_event_id_only() -> None:
    h = Harness()
    h.send(
        ev("order", "ana", 0, order_id="o-1", revenue="10"),
        ev("order", "ana", 1, order_id="o-1", revenue="10"),
    )
    assert h.total("tracker_orders_total") == 2
    assert h.total("tracker_revenue_total", currency="EUR") == 20
