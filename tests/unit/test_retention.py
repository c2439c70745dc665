"""Retention and churn (docs/metrics.md#retention), worked by hand.

Times are seconds after T0 (DAY = a day). Windows end at the reference time, the
highest watermark (event time minus 10 s); the 24 h window covers whole minutes.
"""

from __future__ import annotations

from tests.unit.helpers import DAY, HOUR, Harness, ev
from tests.unit.identity_cluster import Cluster
from tracker.core.customer import decode_state, encode_state
from tracker.core.retention import MAX_ORDERS, Lapse, Retention, lapse_at
from tracker.metrics.samples import total


def gauge(h: Harness, name: str, **labels: str) -> float:
    return h.gauge(name, **labels)


def test_new_and_returning_customers_by_window_and_channel() -> None:
    h = Harness()
    h.send(ev("page_view", "ana", 0))  # ana: first seen on web, 10 days ago
    # Day 10: ana again, on app; bob for the first time, on app, then on web too.
    h.send(ev("page_view", "ana", 10 * DAY, channel="app"))
    h.send(ev("page_view", "bob", 10 * DAY, channel="app"), ev("page_view", "bob", 10 * DAY + 60))
    # Last 24 h: bob new (first seen on app), ana returning, on app.
    assert gauge(h, "tracker_customers_new", window="24h", channel="all") == 1
    assert gauge(h, "tracker_customers_new", window="24h", channel="app") == 1
    assert gauge(h, "tracker_customers_new", window="24h", channel="web") == 0
    assert gauge(h, "tracker_customers_returning", window="24h", channel="all") == 1
    assert gauge(h, "tracker_customers_returning", window="24h", channel="app") == 1
    # bob was on web in the window but is new: not a returning customer on web.
    assert gauge(h, "tracker_customers_returning", window="24h", channel="web") == 0
    # 28 days: both were first seen in it; nobody returns from before.
    assert gauge(h, "tracker_customers_new", window="28d", channel="all") == 2
    assert gauge(h, "tracker_customers_new", window="28d", channel="web") == 1
    assert gauge(h, "tracker_customers_returning", window="28d", channel="all") == 0
    for window in ("1h", "24h", "7d", "28d"):
        new = gauge(h, "tracker_customers_new", window=window, channel="all")
        returning = gauge(h, "tracker_customers_returning", window=window, channel="all")
        assert new + returning == gauge(h, "tracker_reach", window=window, channel="all")


def test_an_earlier_event_arriving_late_makes_a_new_customer_a_returning_one() -> None:
    h = Harness()
    h.send(ev("page_view", "ana", 2 * DAY))
    assert gauge(h, "tracker_customers_new", window="24h", channel="all") == 1
    h.send(ev("page_view", "ana", 2 * DAY - 2 * HOUR, channel="email"))  # within the gap: counted
    assert gauge(h, "tracker_customers_new", window="24h", channel="email") == 1
    assert gauge(h, "tracker_customers_new", window="24h", channel="web") == 0
    h.send(ev("page_view", "ana", 0), broker_at=2 * DAY)  # late: counts in reach and history
    assert gauge(h, "tracker_customers_new", window="24h", channel="all") == 0
    assert gauge(h, "tracker_customers_returning", window="24h", channel="all") == 1
    # First seen before the window, seen on e-mail in it: returning on e-mail too.
    assert gauge(h, "tracker_customers_returning", window="24h", channel="email") == 1


def test_lapse_is_twice_the_median_gap_and_at_least_30_days() -> None:
    rule = Lapse()
    d = DAY * 1000  # state holds milliseconds
    # Gaps 10 and 10 days: twice the median is 20 days, under 30: lapses 30 days after.
    assert lapse_at(Retention(0, 0, orders=[20 * d, 10 * d, 0]), rule) == 50 * d
    # Gaps 30 and 10: the median of two is 20, twice that 40 days.
    assert lapse_at(Retention(0, 0, orders=[40 * d, 10 * d, 0]), rule) == 80 * d
    assert lapse_at(Retention(0, 0, orders=[0]), rule) is None  # one order: never
    assert lapse_at(Retention(0, 0, orders=[9, 0]), Lapse(min_ms=5, factor=3)) == 9 + 27


def test_a_customer_lapses_as_the_watermark_passes_and_is_won_back_by_an_order() -> None:
    h = Harness()
    h.send(ev("order", "ana", 0), ev("order", "ana", 10 * DAY), ev("order", "ana", 20 * DAY))
    h.send(ev("page_view", "bob", 50 * DAY))  # watermark 50 days minus 10 s: not past 50 days
    assert gauge(h, "tracker_customers_lapsed", channel="all") == 0
    h.send(ev("page_view", "bob", 50 * DAY + 11))  # past it: ana lapsed at 50 days
    assert gauge(h, "tracker_customers_lapsed", channel="web") == 1
    assert gauge(h, "tracker_customers_lapsed_window", window="1h", channel="all") == 1
    assert h.total("tracker_customer_lapses_total", channel="web") == 1
    h.send(ev("order", "ana", 60 * DAY))  # back
    assert gauge(h, "tracker_customers_lapsed", channel="all") == 0
    assert gauge(h, "tracker_customers_lapsed_window", window="28d", channel="all") == 0
    assert h.total("tracker_customer_win_backs_total", channel="web") == 1


def test_a_lapsed_customer_leaves_the_count_when_its_state_expires() -> None:
    h = Harness()
    h.send(ev("order", "ana", 0), ev("order", "ana", 10 * DAY))  # lapses at 40 days
    h.idle_to(41 * DAY)
    assert gauge(h, "tracker_customers_lapsed", channel="all") == 1
    h.idle_to(99 * DAY)  # expiry: 90 days after the last event, by day
    assert gauge(h, "tracker_customers_lapsed", channel="all") == 1
    h.idle_to(102 * DAY)
    assert h.state("ana") is None
    assert gauge(h, "tracker_customers_lapsed", channel="all") == 0


def test_repurchase_rate_by_first_order_channel() -> None:
    h = Harness()
    h.send(ev("order", "ana", 0), ev("order", "ana", DAY, channel="app"))  # first on web
    h.send(ev("order", "carl", DAY, channel="store"))
    lookback = {"window": "90d"}
    assert (
        gauge(h, "tracker_repurchase_customers_by_first_channel_window", **lookback, channel="web")
        == 1
    )
    assert (
        gauge(
            h,
            "tracker_repurchase_repeat_customers_by_first_channel_window",
            **lookback,
            channel="web",
        )
        == 1
    )
    assert gauge(h, "tracker_repurchase_rate_by_first_channel", **lookback, channel="web") == 1.0
    assert gauge(h, "tracker_repurchase_rate_by_first_channel", **lookback, channel="store") == 0.0
    assert gauge(h, "tracker_repurchase_rate_by_first_channel", **lookback, channel="all") == 0.5


def test_an_erased_customer_leaves_every_figure_at_once() -> None:
    h = Harness()
    h.send(ev("order", "ana", 0), ev("order", "ana", 10 * DAY), ev("page_view", "ana", 41 * DAY))
    assert gauge(h, "tracker_customers_lapsed", channel="all") == 1
    h.send(ev("consent", "ana", 41 * DAY + 60, analytics=False))
    assert gauge(h, "tracker_customers_lapsed", channel="all") == 0
    assert gauge(h, "tracker_customers_returning", window="28d", channel="all") == 0
    assert gauge(h, "tracker_customers_new", window="28d", channel="all") == 0
    assert (
        gauge(
            h, "tracker_repurchase_customers_by_first_channel_window", window="90d", channel="all"
        )
        == 0
    )


def test_order_history_is_bounded_and_survives_the_row() -> None:
    h = Harness()
    h.send(*(ev("order", "ana", n * HOUR) for n in range(MAX_ORDERS + 4)))
    state = h.state("ana")
    assert state is not None and state.retention is not None
    assert len(state.retention.orders) == MAX_ORDERS
    assert state.retention.orders == sorted(state.retention.orders, reverse=True)  # newest
    assert state.retention.first_order_ms < state.retention.orders[-1]  # the first remembered
    row = encode_state(state, h.p.rules.labels.touchpoints)
    assert decode_state(row, h.p.rules.labels.touchpoints).retention == state.retention
    old = decode_state(row[:9], h.p.rules.labels.touchpoints)  # a row from before
    assert old.retention is None and old.tickets == {}


def test_a_linked_device_brings_its_first_visit_and_orders() -> None:
    c = Cluster()
    c.send(ev("page_view", "dev-anna", 0), ev("order", "dev-anna", 60))  # web, guest order
    c.send(ev("page_view", "anna", 5 * DAY, channel="app"))
    c.send(ev("order", "anna", 5 * DAY + 60, channel="app"))
    c.send(ev("identify", "anna", 5 * DAY + 120, anonymous_id="dev-anna", channel="app"))
    c.tick(c.wall_ms + 61_000)  # a quiet minute: the hand-over lands
    s = c.samples()
    # One person, first seen 5 days ago on web; two orders, the first on web.
    assert total(s, "tracker_customers_new", window="7d", channel="all") == 1
    assert total(s, "tracker_customers_new", window="7d", channel="web") == 1
    assert total(s, "tracker_customers_new", window="24h", channel="all") == 0
    assert total(s, "tracker_customers_returning", window="24h", channel="all") == 1
    repeat = "tracker_repurchase_repeat_customers_by_first_channel_window"
    assert total(s, repeat, window="90d", channel="web") == 1
    assert total(s, repeat, window="90d", channel="all") == 1
