"""Event-time windows: reach, rate gauges, repurchase, feedback KPIs (docs/metrics.md#windows)."""

from __future__ import annotations

import math

import pytest

from tests.unit.helpers import DAY, HOUR, MIN, Harness, ev

WINDOWS = ("1h", "24h", "7d", "28d")


def reach(h: Harness, window: str, channel: str = "all") -> float:
    return h.gauge("tracker_reach", window=window, channel=channel)


# --- reach -----------------------------------------------------------------------------------


@pytest.fixture
def reach_stream() -> Harness:
    h = Harness()
    h.send(
        ev("page_view", "ana", 0, channel="web"),
        ev("page_view", "bob", 2 * DAY, channel="app"),
        ev("page_view", "carl", 9 * DAY, channel="store", touchpoint="store:berlin"),
        ev("page_view", "dora", 10 * DAY + 1 * HOUR + 50 * MIN, channel="web"),
        ev("page_view", "emil", 10 * DAY + 2 * HOUR, channel="web"),
        ev("page_ping", "emil", 10 * DAY + 2 * HOUR + 30 * MIN, channel="web"),
        ev("interaction", "emil", 10 * DAY + 3 * HOUR, channel="app"),
    )
    return h  # reference time: 10 d 3 h - 10 s


def test_reach_windows_overall(reach_stream: Harness) -> None:
    h = reach_stream
    assert [reach(h, w) for w in WINDOWS] == [1, 2, 3, 5]


def test_reach_windows_per_channel_use_the_events_own_channel(reach_stream: Harness) -> None:
    h = reach_stream
    assert [reach(h, w, "web") for w in WINDOWS] == [1, 2, 2, 3]
    assert [reach(h, w, "app") for w in WINDOWS] == [1, 1, 1, 2]
    assert [reach(h, w, "store") for w in WINDOWS] == [0, 0, 1, 1]
    assert [reach(h, w, "email") for w in WINDOWS] == [0, 0, 0, 0]


def test_reach_windows_end_at_the_reference_time(reach_stream: Harness) -> None:
    h = reach_stream
    h.idle_to(11 * DAY + 2 * HOUR)  # 23 h after emil's last event
    assert [reach(h, w) for w in WINDOWS] == [0, 1, 3, 5]
    h.idle_to(40 * DAY)
    assert [reach(h, w) for w in WINDOWS] == [0, 0, 0, 0]


def test_reach_is_distinct_customers() -> None:
    h = Harness()
    h.send(*[ev("page_view", "ana", i * MIN) for i in range(30)])
    h.send(*[ev("page_view", "bob", i * MIN, channel="app") for i in range(30)])
    assert [reach(h, w) for w in WINDOWS] == [2, 2, 2, 2]
    assert reach(h, "1h", "app") == 1


def test_reach_counts_customers_by_their_newest_event() -> None:
    h = Harness()
    h.send(ev("page_view", "ana", 5 * HOUR), ev("page_view", "ana", 0))  # the older one later
    h.send(ev("page_view", "bob", 5 * HOUR + 30 * MIN))
    assert reach(h, "1h") == 2


def test_reach_counts_consent_grants_and_ignores_unconsented_customers() -> None:
    h = Harness()
    h.send(ev("consent", "ana", 0), ev("page_view", "bob", 0, analytics=False))
    assert reach(h, "1h") == 1


# --- rate gauges -----------------------------------------------------------------------------


@pytest.fixture
def rate_stream() -> Harness:
    h = Harness()
    h.send(ev("page_view", "ana", 0))  # bounced, ends at 0
    h.send(ev("page_view", "bob", 1 * HOUR + 50 * MIN))  # starts before the 1 h window ...
    h.send(ev("interaction", "bob", 2 * HOUR + 5 * MIN))  # ... ends inside: interacted
    h.send(ev("page_view", "carl", 2 * HOUR), ev("order", "carl", 2 * HOUR + 10 * MIN))
    h.send(ev("page_view", "dora", 2 * HOUR + 20 * MIN))  # bounced
    h.idle_to(3 * HOUR)  # every session is over; reference time 3 h
    return h


def test_rate_numerators_and_denominators(rate_stream: Harness) -> None:
    h = rate_stream
    closed = [h.gauge("tracker_sessions_closed_window", window=w, channel="all") for w in WINDOWS]
    assert closed == [3, 4, 4, 4]
    assert h.gauge("tracker_sessions_bounced_window", window="1h", channel="all") == 1
    assert h.gauge("tracker_sessions_bounced_window", window="24h", channel="all") == 2
    assert h.gauge("tracker_sessions_converted_window", window="1h", channel="all") == 1
    assert h.gauge("tracker_sessions_interacted_window", window="1h", channel="all") == 1


def test_rates_over_sessions_closed_in_the_window(rate_stream: Harness) -> None:
    h = rate_stream
    assert h.gauge("tracker_bounce_rate", window="1h", channel="all") == pytest.approx(1 / 3)
    assert h.gauge("tracker_conversion_rate", window="1h", channel="all") == pytest.approx(1 / 3)
    assert h.gauge("tracker_interaction_rate", window="1h", channel="all") == pytest.approx(1 / 3)
    assert h.gauge("tracker_bounce_rate", window="24h", channel="all") == 0.5
    assert h.gauge("tracker_conversion_rate", window="28d", channel="all") == 0.25
    assert h.gauge("tracker_interaction_rate", window="7d", channel="all") == 0.25


def test_rates_without_closed_sessions_are_nan() -> None:
    h = Harness()
    h.send(ev("page_view", "ana", 0))  # open
    for gauge in ("tracker_bounce_rate", "tracker_conversion_rate", "tracker_interaction_rate"):
        assert math.isnan(h.gauge(gauge, window="1h", channel="all"))


def test_open_sessions_are_not_in_the_rates_but_active() -> None:
    h = Harness()
    h.send(ev("page_view", "ana", 0, channel="app"), ev("page_view", "bob", 0, channel="email"))
    assert h.gauge("tracker_sessions_closed_window", window="28d", channel="all") == 0
    assert h.gauge("tracker_sessions_active", channel="app") == 1
    assert h.gauge("tracker_sessions_active", channel="email") == 1


# --- repurchase --------------------------------------------------------------------------------


def test_repurchase_rate_customers_with_two_orders_over_customers_with_one() -> None:
    h = Harness()
    h.send(
        ev("order", "ana", 0),
        ev("order", "ana", 1 * DAY),
        ev("order", "ana", 2 * DAY),
        ev("order", "bob", 0),
        ev("page_view", "carl", 2 * DAY),
    )
    assert h.gauge("tracker_repurchase_customers_window", window="90d") == 2
    assert h.gauge("tracker_repurchase_repeat_customers_window", window="90d") == 1
    assert h.gauge("tracker_repurchase_rate", window="90d") == 0.5


def test_repurchase_looks_back_90_days() -> None:
    h = Harness()
    h.send(ev("order", "ana", 0), ev("order", "bob", 0))
    h.send(ev("order", "carl", 50 * DAY), ev("order", "carl", 60 * DAY))
    h.send(ev("order", "ana", 95 * DAY))  # ana's first order is 95 days old now
    assert h.gauge("tracker_repurchase_customers_window", window="90d") == 2  # ana, carl
    assert h.gauge("tracker_repurchase_rate", window="90d") == 0.5


def test_repurchase_rate_without_orders_is_nan() -> None:
    h = Harness()
    h.send(ev("page_view", "ana", 0))
    assert math.isnan(h.gauge("tracker_repurchase_rate", window="90d"))


# --- feedback ----------------------------------------------------------------------------------


@pytest.fixture
def feedback_stream() -> Harness:
    h = Harness()
    h.send(ev("feedback", "old", 0, nps=0, csat=1, ces=7))  # only in the 24 h+ windows
    h.send(
        ev("feedback", "ana", 5 * HOUR, nps=10, csat=5, ces=2),
        ev("feedback", "bob", 5 * HOUR, nps=9, csat=4, channel="app"),
        ev("feedback", "carl", 5 * HOUR, nps=8, csat=3, ces=5),
        ev("feedback", "dora", 5 * HOUR, nps=3, csat=1),
        ev("feedback", "emil", 5 * HOUR, nps=7),
        ev("feedback", "emil", 5 * HOUR + 1, comment="good good", language="en"),
        ev("feedback", "fred", 5 * HOUR, comment="sehr schlecht", language="de"),
        ev("feedback", "gina", 5 * HOUR, comment="ok", language="en", csat=5),
    )
    return h


def test_nps_categories_are_counted(feedback_stream: Harness) -> None:
    h = feedback_stream
    assert h.total("tracker_nps_responses_total", category="promoter") == 2
    assert h.total("tracker_nps_responses_total", category="promoter", channel="app") == 1
    assert h.total("tracker_nps_responses_total", category="passive") == 2  # 7 and 8
    assert h.total("tracker_nps_responses_total", category="detractor") == 2  # 0 and 3


def test_nps_gauge_is_promoters_minus_detractors_percent(feedback_stream: Harness) -> None:
    h = feedback_stream
    assert h.gauge("tracker_nps", window="1h") == 20.0  # (2 - 1) / 5
    assert h.gauge("tracker_nps", window="24h") == 0.0  # (2 - 2) / 6
    assert h.gauge("tracker_nps_responses_window", window="1h") == 5


def test_csat_is_the_share_of_4_and_5(feedback_stream: Harness) -> None:
    h = feedback_stream
    assert h.gauge("tracker_csat", window="1h") == 0.6  # 5, 4, 3, 1, 5
    assert h.gauge("tracker_csat", window="24h") == 0.5
    assert h.total("tracker_csat_responses_total", score="5") == 2
    assert h.total("tracker_csat_responses_total", score="1") == 2


def test_ces_is_the_mean_score(feedback_stream: Harness) -> None:
    h = feedback_stream
    assert h.gauge("tracker_ces", window="1h") == 3.5
    assert h.gauge("tracker_ces", window="24h") == pytest.approx(14 / 3)
    assert h.total("tracker_ces_responses_total", score="7") == 1


def test_sentiment_of_comments(feedback_stream: Harness) -> None:
    h = feedback_stream
    assert h.total("tracker_feedback_sentiment_total", polarity="positive", language="en") == 1
    assert h.total("tracker_feedback_sentiment_total", polarity="negative", language="de") == 1
    assert h.total("tracker_feedback_sentiment_total", polarity="neutral", language="en") == 1
    bucket = "tracker_feedback_sentiment_score_bucket"
    assert h.total(bucket, language="en", le="+Inf") == 2
    assert h.total(bucket, language="en", le="0.05") == 1  # "ok": 0.0
    assert h.total(bucket, language="de", le="-0.5") == 1  # "schlecht": -0.6
    assert h.total(bucket, language="de", le="-0.75") == 0


def test_feedback_gauges_without_answers_are_nan() -> None:
    h = Harness()
    h.send(ev("page_view", "ana", 0))
    for gauge in ("tracker_nps", "tracker_csat", "tracker_ces"):
        assert math.isnan(h.gauge(gauge, window="28d"))


def test_interactions_by_action_allow_list() -> None:
    h = Harness()
    h.send(
        ev("interaction", "ana", 0, action="add_to_cart"),
        ev("interaction", "ana", 1, action="dance"),
    )
    assert h.total("tracker_interactions_total", action="add_to_cart") == 1
    assert h.total("tracker_interactions_total", action="other") == 1


def test_revenue_per_session_over_sessions_closed_in_the_window() -> None:
    h = Harness()
    h.send(ev("page_view", "a", 0), ev("order", "a", MIN, revenue="30.00", currency="EUR"))
    h.send(ev("page_view", "b", 0), ev("order", "b", MIN, revenue="12.50", currency="EUR"))
    h.send(ev("page_view", "c", 0))
    h.idle_to(2 * HOUR)
    assert h.gauge("tracker_revenue_window", window="24h", currency="EUR", channel="all") == 42.5
    per_session = h.gauge("tracker_revenue_per_session", window="24h", currency="EUR")
    assert per_session == pytest.approx(42.5 / 3)
    assert h.gauge("tracker_revenue_window", window="1h", currency="EUR", channel="all") == 0
