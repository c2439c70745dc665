"""The overview page's "Customer experience" section, worked by hand.

Most figures come from crafted samples (what ``/metrics`` would serve), so each
expected value is arithmetic on the buckets and counts written here; the last
tests feed events through a partition and read its real exposition.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from tests.unit.helpers import MIN, Harness, ev
from tracker.metrics.catalogue import spec
from tracker.metrics.overview import overview
from tracker.metrics.overview_experience import (
    EXPERIENCE_DEFINITIONS,
    histogram_quantile,
)
from tracker.metrics.samples import Sample

TEST = "checkout-button"  # the default allow-list's experiment: control, green, blue
LCP_LE = ("1.0", "1.5", "2.0", "2.5", "3.0", "4.0", "6.0", "10.0", "+Inf")
RESPONSE_LE = (
    *(f"{b}.0" for b in (30, 60, 120, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 172800)),
    "+Inf",
)
RESOLUTION_LE = (
    *(f"{b}.0" for b in (300, 900, 3600, 14400, 28800, 86400, 172800, 259200, 604800, 1209600)),
    "+Inf",
)


def hist(
    metric: str, bounds: tuple[str, ...], per_bucket: dict[str, int], /, **labels: str
) -> list[Sample]:
    """A histogram's exposition samples from the observations in each bucket."""
    out: list[Sample] = []
    cumulative = 0
    for le in bounds:
        cumulative += per_bucket.get(le, 0)
        out.append((f"{metric}_bucket", tuple(sorted({**labels, "le": le}.items())), cumulative))
    out.append((f"{metric}_count", tuple(sorted(labels.items())), cumulative))
    return out


def g(metric: str, value: float, /, **labels: str) -> Sample:
    return (metric, tuple(sorted(labels.items())), value)


def lcp(touchpoint: str, per_bucket: dict[str, int], partition: str = "0") -> list[Sample]:
    labels = {"name": "LCP", "touchpoint": touchpoint, "partition": partition}
    return hist("tracker_web_vital", LCP_LE, per_bucket, **labels)


def crafted() -> list[Sample]:
    """Load times, support and retention as a worker with two partitions would export them."""
    return [
        g("tracker_events_total", 40, partition="0"),
        *_load_times(),
        *_support(),
        *_retention(),
    ]


def _load_times() -> list[Sample]:
    return [
        # home: 4 loads, 1 s, 1.5 s, 2.5 s, 3 s bucket; product: 2 loads in (3, 4] on one
        # partition, 2 in (4, 6] on the other; checkout: 1 load over 10 s.
        *lcp("home", {"1.0": 1, "1.5": 1, "2.5": 1, "3.0": 1}),
        *lcp("product", {"4.0": 2}, "0"),
        *lcp("product", {"6.0": 2}, "1"),
        *lcp("checkout", {"+Inf": 1}),
        *lcp("cart", {}),  # a zero series: no loads, no row
        *hist("tracker_web_vital", LCP_LE, {"10.0": 5}, name="INP", touchpoint="home"),
        # Conversion by LCP class: the last 24 h, and a different last hour.
        *(
            g(f"tracker_sessions_{kind}_by_lcp_window", n, window="24h", lcp_class=c)
            for c, closed, converted in (
                ("good", 10, 3),
                ("needs-improvement", 0, 0),
                ("poor", 4, 0),
                ("unmeasured", 6, 1),
            )
            for kind, n in (("closed", closed), ("converted", converted))
        ),
        g("tracker_sessions_closed_by_lcp_window", 2, window="1h", lcp_class="good"),
        g("tracker_sessions_converted_by_lcp_window", 2, window="1h", lcp_class="good"),
        g("tracker_conversion_rate_by_lcp", math.nan, window="24h", lcp_class="needs-improvement"),
    ]


def _support() -> list[Sample]:
    support = {"support_channel": "chat"}
    return [
        # chat: 9 first replies in (30, 60] s and 1 in (300, 900]; email: 1 in (4 h, 8 h].
        *hist("tracker_support_first_response_seconds", RESPONSE_LE, {"60.0": 9}, **support),
        *hist(
            "tracker_support_first_response_seconds",
            RESPONSE_LE,
            {"900.0": 1},
            support_channel="chat",
            partition="1",
        ),
        *hist(
            "tracker_support_first_response_seconds",
            RESPONSE_LE,
            {"28800.0": 1},
            support_channel="email",
        ),
        *hist("tracker_support_resolution_seconds", RESOLUTION_LE, {"900.0": 2}, **support),
        g("tracker_support_tickets_resolved_total", 3, partition="0", **support),
        g("tracker_support_tickets_resolved_total", 1, partition="1", **support),
        g("tracker_support_tickets_reopened_total", 1, partition="1", **support),
        g("tracker_support_tickets_open", 2, **support),
        g("tracker_support_tickets_open", 1, support_channel="email"),
        g("tracker_sessions_with_support_total", 5, partition="0", **support),
        g("tracker_sessions_rescued_total", 2, partition="0", **support),
    ]


def _retention() -> list[Sample]:
    return [
        # Customers in the last 24 h; lapsed now; repurchase over the 90-day lookback.
        g("tracker_customers_new", 3, window="24h", channel="all"),
        g("tracker_customers_new", 2, window="24h", channel="web"),
        g("tracker_customers_new", 1, window="24h", channel="app"),
        g("tracker_customers_returning", 1, window="24h", channel="all"),
        g("tracker_customers_returning", 1, window="24h", channel="web"),
        g("tracker_customers_lapsed_window", 1, window="24h", channel="all"),
        g("tracker_customers_lapsed_window", 1, window="24h", channel="web"),
        g("tracker_customers_lapsed", 2, channel="all"),
        g("tracker_customers_lapsed", 1, channel="web"),
        g("tracker_customers_lapsed", 1, channel="email"),
        *(
            g(f"tracker_repurchase_{kind}_by_first_channel_window", n, window="90d", channel=c)
            for c, buyers, repeat in (("all", 4, 1), ("web", 3, 1), ("app", 1, 0))
            for kind, n in (("customers", buyers), ("repeat_customers", repeat))
        ),
        g("tracker_repurchase_rate_by_first_channel", math.nan, window="90d", channel="store"),
    ]


@pytest.fixture(scope="module")
def page() -> dict[str, Any]:
    return overview(crafted())


def test_quantiles_interpolate_inside_a_bucket_as_prometheus_does() -> None:
    buckets = [(1.0, 1.0), (2.0, 3.0), (math.inf, 4.0)]
    # rank 0.75 * 4 = 3: the end of the (1, 2] bucket, which holds observations 2 and 3.
    assert histogram_quantile(0.75, buckets) == {"value": 2.0, "beyond": False, "count": 4.0}
    # rank 0.5: half-way into the first bucket, counted from 0.
    assert histogram_quantile(0.125, buckets) == {"value": 0.5, "beyond": False, "count": 4.0}
    # rank 3.6 lies in +Inf: Prometheus answers the highest finite bound; the page says "over".
    assert histogram_quantile(0.9, buckets) == {"value": 2.0, "beyond": True, "count": 4.0}
    assert histogram_quantile(0.9, [(1.0, 0.0), (math.inf, 0.0)]) is None
    assert histogram_quantile(0.9, []) is None


def test_lcp_p75_per_touchpoint_slowest_first_with_its_rating(page: dict[str, Any]) -> None:
    times = page["experience"]["load_times"]
    rows = [(r["touchpoint"], r["value"], r["rating"], r["count"]) for r in times["touchpoints"]]
    assert rows == [
        ("checkout", 10.0, "poor", 1),  # in +Inf: over 10 s
        ("product", pytest.approx(5.0), "poor", 4),  # rank 3: half-way into (4, 6]
        ("home", pytest.approx(2.5), "good", 4),  # rank 3: the end of (2, 2.5]; 2.5 s is good
    ]
    assert times["touchpoints"][0]["beyond"] is True
    # All 9 loads: rank 6.75 lies in (4, 6] holding loads 7 and 8: 4 + 2 * 0.75 / 2.
    assert times["all"]["value"] == pytest.approx(4.75)
    assert times["all"]["rating"] == "poor" and times["all"]["count"] == 9


def test_support_service_levels_per_channel(page: dict[str, Any]) -> None:
    support = page["experience"]["support"]
    chat, phone, email, social = support["channels"]
    assert [c["support_channel"] for c in (chat, phone, email, social)] == [
        "chat",
        "phone",
        "email",
        "social",
    ]
    # 10 first replies, rank 9 = the end of (30, 60]; resolutions: rank 1.8 of 2 in (300, 900].
    assert chat["first_response_p90"]["value"] == pytest.approx(60.0)
    assert chat["resolution_p90"]["value"] == pytest.approx(300 + 600 * 0.9)
    assert chat["reopen_rate"] == pytest.approx(1 / 4)  # reopened / resolved, both partitions
    assert (chat["tickets_open"], chat["rescued"], chat["rescued_share"]) == (2, 2, 0.4)
    assert email["first_response_p90"]["value"] == pytest.approx(14400 + 14400 * 0.9)
    assert email["resolution_p90"] is None
    assert phone["first_response_p90"] is None and phone["reopen_rate"] is None
    everyone = support["all"]
    # 11 first replies: rank 9.9 in (300, 900], which holds the 10th only.
    assert everyone["first_response_p90"]["value"] == pytest.approx(300 + 600 * 0.9)
    assert (everyone["tickets_open"], everyone["resolved"], everyone["rescued"]) == (3, 4, 2)


def test_conversion_by_lcp_class_follows_the_window(page: dict[str, Any]) -> None:
    day = page["by_window"]["24h"]["experience"]["conversion_by_lcp"]
    assert [(r["lcp_class"], r["sessions"], r["conversion_rate"]) for r in day] == [
        ("good", 10, pytest.approx(0.3)),
        ("needs-improvement", 0, None),  # no sessions: no rate, not NaN
        ("poor", 4, 0.0),
        ("unmeasured", 6, pytest.approx(1 / 6)),
    ]
    hour = page["by_window"]["1h"]["experience"]["conversion_by_lcp"]
    assert hour[0]["conversion_rate"] == 1.0 and hour[2]["sessions"] == 0


def test_new_returning_and_lapsed_customers(page: dict[str, Any]) -> None:
    day = page["by_window"]["24h"]["experience"]["customers"]
    assert (day["new"], day["returning"], day["lapsed_in_window"]) == (3, 1, 1)
    assert day["returning_share"] == pytest.approx(1 / 4)
    web = next(c for c in day["channels"] if c["channel"] == "web")
    assert (web["new"], web["returning"]) == (2, 1)
    assert page["by_window"]["7d"]["experience"]["customers"]["returning_share"] is None
    retention = page["experience"]["retention"]
    assert retention["lookback"] == "90d"
    assert retention["all"]["lapsed"] == 2
    assert retention["all"]["repurchase_rate"] == pytest.approx(1 / 4)
    rows = {c["channel"]: c for c in retention["channels"]}
    assert rows["web"]["repurchase_rate"] == pytest.approx(1 / 3)
    assert rows["app"]["repurchase_rate"] == 0.0
    assert rows["store"]["repurchase_rate"] is None  # the exported NaN never reaches the page
    assert (rows["web"]["lapsed"], rows["email"]["lapsed"]) == (1, 1)


def test_every_figure_has_its_catalogue_definition(page: dict[str, Any]) -> None:
    for key, metric in EXPERIENCE_DEFINITIONS.items():
        assert page["definitions"][key].startswith(spec(metric).help), key


def test_no_data_yet_is_none_never_nan() -> None:
    empty = overview(Harness().samples())
    json.dumps(empty, allow_nan=False)  # NaN would fail: the page gets null, says "no data yet"
    assert empty["experience"]["load_times"] == {"all": None, "touchpoints": []}
    assert empty["experience"]["support"]["all"]["first_response_p90"] is None
    assert empty["experience"]["support"]["all"]["reopen_rate"] is None
    day = empty["by_window"]["24h"]["experience"]
    assert all(r["conversion_rate"] is None for r in day["conversion_by_lcp"])
    assert empty["experience"]["retention"]["all"]["repurchase_rate"] is None


def test_figures_from_a_partitions_real_exposition() -> None:
    """ana lands on home (LCP 1.2 s) and buys; bob lands on product (LCP 5 s) and leaves;
    carl chats: first reply after 45 s, resolved 10 min after his contact."""
    h = Harness(session_gap=5 * MIN)
    h.send(
        ev("page_view", "ana", 0),
        ev("web_vital", "ana", 5, value=1200),
        ev("order", "ana", 60),
        ev("page_view", "bob", 0, touchpoint="product"),
        ev("web_vital", "bob", 5, touchpoint="product", value=5000, rating="poor"),
        ev("support_contact", "carl", 0, touchpoint="support"),
        ev("support_reply", "carl", 45, touchpoint="support", analytics=False),
        ev("support_resolved", "carl", 10 * MIN, touchpoint="support", analytics=False),
    )
    h.idle_to(30 * MIN)
    page = overview(h.samples())
    rows = {r["touchpoint"]: r for r in page["experience"]["load_times"]["touchpoints"]}
    assert rows["product"]["value"] == pytest.approx(4 + 2 * 0.75)  # one load in (4, 6]
    assert rows["product"]["rating"] == "poor"
    assert rows["home"]["value"] == pytest.approx(1 + 0.5 * 0.75)  # one load in (1, 1.5]
    assert rows["home"]["rating"] == "good"
    classes = page["by_window"]["24h"]["experience"]["conversion_by_lcp"]
    assert {r["lcp_class"]: (r["sessions"], r["converted"]) for r in classes} == {
        "good": (1, 1),
        "needs-improvement": (0, 0),
        "poor": (1, 0),
        "unmeasured": (1, 0),  # carl's chat opened a session without a page load
    }
    chat = page["experience"]["support"]["channels"][0]
    assert chat["first_response_p90"]["value"] == pytest.approx(30 + 30 * 0.9)  # 45 s in (30, 60]
    assert chat["resolution_p90"]["value"] == pytest.approx(300 + 600 * 0.9)  # 600 s in (300, 900]
    assert (chat["tickets_open"], chat["reopen_rate"], chat["rescued_share"]) == (0, 0.0, 0.0)
    customers = page["by_window"]["24h"]["experience"]["customers"]
    assert (customers["new"], customers["returning"]) == (3, 0)


# --- live experiments ------------------------------------------------------------------------


def _arm(name: str, variant: str, sessions: int, converted: int, part: str) -> list[Sample]:
    at = {"experiment": name, "variant": variant, "partition": part}
    return [
        g(f"tracker_experiment_{k}_total", n, **at)
        for k, n in (("sessions", sessions), ("conversions", converted))
    ]


def _gauges(experiment: str, control: str, size: float, **p_values: float) -> list[Sample]:
    """The scrape-time gauges: conversion rates in the allow-list's order, control first."""
    rates = dict.fromkeys((control, *p_values), math.nan)
    return [
        *(
            g(f"tracker_experiment_{k}", p, experiment=experiment, variant=v)
            for k, values in (("conversion_rate", rates), ("p_value", p_values))
            for v, p in values.items()
        ),
        g("tracker_experiment_sample_size", size, experiment=experiment),
        g("tracker_experiment_control_info", 1, experiment=experiment, variant=control),
    ]


def crafted_experiments(on_sessions: int = 1200) -> list[Sample]:
    """checkout-button short of its horizon of 4,862 per arm; free-shipping past its 1,000."""
    return [
        # The counters name variants in no useful order (green before the control), and
        # the control's sessions are split over two partitions: 1,000 + 800.
        *_arm(TEST, "green", 2000, 120, "0"),
        *_arm(TEST, "control", 1000, 50, "0"),
        *_arm(TEST, "control", 800, 40, "1"),
        *_arm(TEST, "blue", 4862, 243, "1"),
        *_arm("free-shipping", "off", 1000, 100, "0"),
        *_arm("free-shipping", "on", on_sessions, 150, "0"),
        *_gauges(TEST, "control", 4862, green=0.0833, blue=0.9),
        *_gauges("free-shipping", "off", 1000, on=0.0123),
    ]


def _experiments(samples: list[Sample]) -> dict[str, dict[str, Any]]:
    page = overview([g("tracker_events_total", 1, partition="0"), *samples])
    json.dumps(page, allow_nan=False)  # the NaN conversion-rate gauges never reach the page
    return {x["experiment"]: x for x in page["experience"]["experiments"]}


def test_experiment_arms_with_progress_towards_the_horizon() -> None:
    button = _experiments(crafted_experiments())[TEST]
    assert (button["control"], button["sample_size"]) == ("control", 4862)
    assert button["sessions"] == 1800 + 2000 + 4862
    rows = [
        (r["variant"], r["sessions"], r["conversions"], r["conversion_rate"], r["reached"])
        for r in button["variants"]
    ]
    assert rows == [  # the control first, then the allow-list's order as the gauges give it
        ("control", 1800, 90, pytest.approx(0.05), False),  # 90 / 1,800
        ("green", 2000, 120, pytest.approx(0.06), False),
        ("blue", 4862, 243, pytest.approx(243 / 4862), True),  # exactly at the horizon
    ]
    progress = [r["progress"] for r in button["variants"]]
    # 1,800 / 4,862 = 0.3702: the page writes "37 % of 4,862".
    assert progress == [pytest.approx(0.3702, abs=1e-4), pytest.approx(0.4114, abs=1e-4), 1.0]
    assert button["alpha"] == 0.025  # two variants against one control: 0.05 / 2


def test_the_p_value_is_withheld_until_every_arm_reaches_the_horizon() -> None:
    button = _experiments(crafted_experiments())[TEST]
    assert button["at_horizon"] is False  # blue is there, the control and green are not
    states = [(r["variant"], r["p_value"], r["p_value_state"]) for r in button["variants"]]
    assert states == [
        ("control", None, "control"),
        ("green", None, "before_horizon"),  # the exported 0.0833 is not on the page
        ("blue", None, "before_horizon"),  # blue alone at the horizon is not enough
    ]
    assert "0.0833" not in json.dumps(button) and "0.9" not in json.dumps(button)
    # One session short of the horizon on one arm hides it as well.
    shipping = _experiments(crafted_experiments(on_sessions=999))["free-shipping"]
    assert (shipping["at_horizon"], shipping["variants"][1]["p_value"]) == (False, None)


def test_the_p_value_shows_once_every_arm_is_at_the_horizon() -> None:
    shipping = _experiments(crafted_experiments())["free-shipping"]
    assert shipping["at_horizon"] is True  # off 1,000 and on 1,200, both >= 1,000
    off, on = shipping["variants"]
    assert (off["variant"], off["p_value"], off["p_value_state"]) == ("off", None, "control")
    assert (on["variant"], on["p_value"], on["p_value_state"]) == ("on", 0.0123, "at_horizon")
    assert on["conversion_rate"] == pytest.approx(0.125)  # 150 / 1,200
    assert on["progress"] == pytest.approx(1.2)  # uncapped here; the page caps at 100 %
    assert shipping["alpha"] == 0.05  # one variant: one test


def test_experiments_without_sessions_or_horizon_say_so() -> None:
    empty = overview(Harness().samples())
    (button,) = empty["experience"]["experiments"]  # the default allow-list, no session yet
    # No control conversion: the sample size is NaN, so there is no horizon yet.
    assert (button["experiment"], button["sessions"], button["sample_size"]) == (TEST, 0, None)
    assert [r["variant"] for r in button["variants"]] == ["control", "green", "blue"]
    assert all(r["conversion_rate"] is None and r["progress"] is None for r in button["variants"])
    assert overview(Harness(experiments="").samples())["experience"]["experiments"] == []


def test_experiments_from_a_partitions_real_exposition() -> None:
    """As in test_experiments: control 1 of 4 converted, green 2 of 2; horizon 4,862."""
    h = Harness()
    for i in range(4):
        orders = [ev("order", f"c{i}", 30 + i)] if i == 0 else []
        h.send(ev("page_view", f"c{i}", i, experiment=TEST, variant="control"), *orders)
    for i in range(2):
        green = ev("page_view", f"g{i}", i, experiment=TEST, variant="green")
        h.send(green, ev("order", f"g{i}", 40 + i))
    h.idle_to(50 * MIN)
    (button,) = overview(h.samples())["experience"]["experiments"]
    assert button["sample_size"] == 4862
    rows = [(r["variant"], r["sessions"], r["conversion_rate"]) for r in button["variants"]]
    assert rows == [("control", 4, 0.25), ("green", 2, 1.0), ("blue", 0, None)]
    assert button["variants"][0]["progress"] == pytest.approx(4 / 4862)
    assert [r["p_value_state"] for r in button["variants"]][1:] == ["before_horizon"] * 2
