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
