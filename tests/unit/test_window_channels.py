"""Window gauges by channel, the funnel of a window, and the window just before.

Figures are worked out by hand from the timelines below (docs/metrics.md): session
figures go by the session's entry channel, orders and revenue by the order event's
channel, and ``channel="all"`` is every channel together.
"""

from __future__ import annotations

import math

import pytest

from tests.unit.helpers import DAY, HOUR, MIN, Harness, ev
from tracker.core.contract import CHANNELS
from tracker.core.labels import WINDOWS

GAP = 5 * MIN  # short sessions: every session below is over by the reference time


@pytest.fixture
def channel_stream() -> Harness:
    """Reference time 2 h: the 1 h window is minutes 61..120, the one before 1..60."""
    h = Harness(session_gap=GAP)
    h.send(ev("page_view", "ana", 10 * MIN))  # web, bounced, previous hour
    h.send(
        ev("page_view", "bob", 70 * MIN, channel="app"),
        ev("order", "bob", 75 * MIN, channel="app", revenue="20.00"),
    )  # app: converted; order app EUR 20
    h.send(
        ev("page_view", "carl", 90 * MIN, channel="email"),
        ev("order", "carl", 95 * MIN, channel="web", revenue="5.50"),
    )  # entry email: converted; the order itself is web EUR 5.50
    h.send(ev("page_view", "dora", 100 * MIN))  # web, bounced
    h.idle_to(2 * HOUR)
    return h


def test_sessions_by_entry_channel_and_all(channel_stream: Harness) -> None:
    h = channel_stream
    closed = {
        c: h.gauge("tracker_sessions_closed_window", window="1h", channel=c) for c in CHANNELS
    }
    assert closed == {c: {"web": 1, "app": 1, "email": 1}.get(c, 0) for c in CHANNELS}
    assert h.gauge("tracker_sessions_closed_window", window="1h", channel="all") == 3
    assert h.gauge("tracker_sessions_closed_window", window="24h", channel="all") == 4
    assert h.gauge("tracker_sessions_closed_window", window="24h", channel="web") == 2
    assert h.gauge("tracker_sessions_converted_window", window="1h", channel="email") == 1
    assert h.gauge("tracker_sessions_converted_window", window="1h", channel="web") == 0
    assert h.gauge("tracker_sessions_bounced_window", window="1h", channel="web") == 1


def test_rates_by_entry_channel(channel_stream: Harness) -> None:
    h = channel_stream
    assert h.gauge("tracker_conversion_rate", window="1h", channel="all") == pytest.approx(2 / 3)
    assert h.gauge("tracker_conversion_rate", window="1h", channel="app") == 1.0
    assert h.gauge("tracker_conversion_rate", window="1h", channel="web") == 0.0
    assert h.gauge("tracker_bounce_rate", window="24h", channel="web") == 1.0
    assert h.gauge("tracker_bounce_rate", window="24h", channel="all") == 0.5
    assert math.isnan(h.gauge("tracker_conversion_rate", window="1h", channel="store"))


def test_orders_and_revenue_by_the_order_events_channel(channel_stream: Harness) -> None:
    h = channel_stream
    orders = {c: h.gauge("tracker_orders_window", window="1h", channel=c) for c in CHANNELS}
    assert orders == {c: {"web": 1, "app": 1}.get(c, 0) for c in CHANNELS}
    assert h.gauge("tracker_orders_window", window="1h", channel="all") == 2
    revenue = {
        c: h.gauge("tracker_revenue_window", window="1h", currency="EUR", channel=c)
        for c in (*CHANNELS, "all")
    }
    assert revenue == {c: {"web": 5.5, "app": 20.0, "all": 25.5}.get(c, 0.0) for c in revenue}


def test_channel_figures_add_up_to_all(channel_stream: Harness) -> None:
    h = channel_stream
    for window in WINDOWS:
        for name in ("tracker_sessions_closed_window", "tracker_orders_window"):
            parts = sum(h.gauge(name, window=window, channel=c) for c in CHANNELS)
            assert parts == h.gauge(name, window=window, channel="all"), (name, window)


def test_the_previous_window_of_the_same_length(channel_stream: Harness) -> None:
    h = channel_stream
    assert h.gauge("tracker_sessions_closed_previous_window", window="1h") == 1  # ana
    assert h.gauge("tracker_sessions_bounced_previous_window", window="1h") == 1
    assert h.gauge("tracker_sessions_converted_previous_window", window="1h") == 0
    assert h.gauge("tracker_orders_previous_window", window="1h") == 0
    assert h.gauge("tracker_revenue_previous_window", window="1h", currency="EUR") == 0
    # Nothing happened in the 24 h before the last 24 h.
    assert h.gauge("tracker_sessions_closed_previous_window", window="24h") == 0


def test_the_24h_before_the_last_24h_is_exact_to_the_minute() -> None:
    """Reference 10 d: the previous 24 h are minutes ref-2879 .. ref-1440 (48 h back)."""
    h = Harness(session_gap=GAP)
    ref = 10 * DAY
    h.send(ev("page_view", "early", ref - 48 * HOUR - 30 * MIN))  # just before: out
    h.send(ev("page_view", "first", ref - 48 * HOUR + MIN))  # the window's first minute
    h.send(ev("order", "mid", ref - 30 * HOUR, revenue="7.25"))  # inside
    h.send(ev("page_view", "last", ref - 24 * HOUR))  # the window's last minute
    h.send(ev("page_view", "next", ref - 24 * HOUR + MIN))  # the current window's first
    h.send(ev("page_view", "now", ref - 2 * HOUR))
    h.idle_to(ref)
    assert h.gauge("tracker_sessions_closed_previous_window", window="24h") == 3
    assert h.gauge("tracker_orders_previous_window", window="24h") == 1
    assert h.gauge("tracker_revenue_previous_window", window="24h", currency="EUR") == 7.25
    assert h.gauge("tracker_sessions_closed_window", window="24h", channel="all") == 2


def test_the_previous_week_and_four_weeks_by_the_hour() -> None:
    """Reference 30 d: 7 d is days 23..30, the week before 16..23; 28 d before is -26..2."""
    h = Harness(session_gap=GAP)
    for n, at in enumerate((1 * DAY, 18 * DAY, 20 * DAY, 25 * DAY)):
        h.send(ev("order", f"c{n}", at))
    h.idle_to(30 * DAY)
    assert h.gauge("tracker_orders_window", window="7d", channel="all") == 1
    assert h.gauge("tracker_orders_previous_window", window="7d") == 2
    assert h.gauge("tracker_orders_window", window="28d", channel="all") == 3
    assert h.gauge("tracker_orders_previous_window", window="28d") == 1
    assert h.gauge("tracker_sessions_converted_previous_window", window="7d") == 2


def test_the_funnel_of_a_window_and_the_configured_order() -> None:
    """Funnel product > cart > checkout > order; the first session closes an hour earlier."""
    h = Harness(session_gap=GAP)
    h.send(ev("page_view", "ana", 10 * MIN, touchpoint="product"))
    h.send(
        ev("page_view", "bob", 70 * MIN, touchpoint="product"),
        ev("page_view", "bob", 71 * MIN, touchpoint="cart"),
        ev("page_view", "bob", 72 * MIN, touchpoint="checkout"),
        ev("order", "bob", 73 * MIN, touchpoint="checkout"),
    )
    h.send(
        ev("page_view", "carl", 80 * MIN, touchpoint="product"),
        ev("page_view", "carl", 81 * MIN, touchpoint="cart"),
    )
    h.send(ev("page_view", "dora", 90 * MIN, touchpoint="cart"))  # never saw a product
    h.idle_to(2 * HOUR)
    steps = ("product", "cart", "checkout", "order")
    hour = [h.gauge("tracker_funnel_sessions_window", window="1h", step=s) for s in steps]
    day = [h.gauge("tracker_funnel_sessions_window", window="24h", step=s) for s in steps]
    assert hour == [2, 2, 1, 1]
    assert day == [3, 2, 1, 1]
    positions = {
        dict(labels)["step"]: dict(labels)["position"]
        for name, labels, value in h.samples()
        if name == "tracker_funnel_step_info" and value == 1
    }
    assert positions == {"product": "1", "cart": "2", "checkout": "3", "order": "4"}
