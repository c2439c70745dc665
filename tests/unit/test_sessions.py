"""Sessions in one partition: the gap, the maximum duration, pings and consent events, outcomes.

See docs/metrics.md#sessions and docs/metrics.md#session-outcomes.
"""

from __future__ import annotations

import pytest

from tests.unit.helpers import HOUR, MIN, Harness, ev, iso


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
