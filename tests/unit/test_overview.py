"""The overview page's numbers: every window, the channel table, the funnel, the changes.

Figures worked out by hand from the timeline in ``overview_stream``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.unit.helpers import HOUR, MIN, Harness, ev
from tracker.metrics.catalogue import spec
from tracker.metrics.overview import GRAFANA_PANELS, History, change, grafana_links, overview

DASHBOARD = (
    Path(__file__).resolve().parents[2] / "deploy/grafana/dashboards/touchpoints-overview.json"
)


@pytest.fixture(scope="module")
def page() -> dict[str, Any]:
    """Reference 26 h; session gap 5 min; funnel product > cart > checkout > order.

    ana (web) T+1h bounced: the 24 h before the last 24 h. In the last 24 h: bob (app)
    product, cart, checkout and an order on web for EUR 30; carl (web) product, cart;
    dora (email) product, bounced. In the last hour: carl and dora.
    """
    h = Harness(session_gap=5 * MIN)
    h.send(ev("page_view", "ana", 1 * HOUR, touchpoint="product"))
    bob = 24 * HOUR
    h.send(
        ev("page_view", "bob", bob, channel="app", touchpoint="product"),
        ev("page_view", "bob", bob + MIN, channel="app", touchpoint="cart"),
        ev("page_view", "bob", bob + 2 * MIN, channel="app", touchpoint="checkout"),
        ev("order", "bob", bob + 3 * MIN, touchpoint="checkout", revenue="30.00"),
    )
    h.send(
        ev("page_view", "carl", 25 * HOUR + 10 * MIN, touchpoint="product"),
        ev("page_view", "carl", 25 * HOUR + 11 * MIN, touchpoint="cart"),
    )
    h.send(ev("page_view", "dora", 25 * HOUR + 20 * MIN, channel="email", touchpoint="product"))
    h.idle_to(26 * HOUR)
    return overview(h.samples())


def test_every_window_at_once_and_the_default(page: dict[str, Any]) -> None:
    assert page["windows"] == ["1h", "24h", "7d", "28d"]
    assert page["default_window"] == "24h"
    assert page["has_data"] is True
    sessions = {w: page["by_window"][w]["headline"]["sessions"]["value"] for w in page["windows"]}
    assert sessions == {"1h": 2, "24h": 3, "7d": 4, "28d": 4}


def test_headline_changes_against_the_window_before(page: dict[str, Any]) -> None:
    day = page["by_window"]["24h"]["headline"]
    assert day["sessions"] == {
        "value": 3,
        "previous": 1,
        "change": pytest.approx(2.0),
        "kind": "relative",
        "note": None,
    }
    assert day["bounce_rate"]["change"] == pytest.approx(1 / 3 - 1)  # points: 33.3% vs 100%
    assert day["bounce_rate"]["kind"] == "points"
    assert day["orders"]["change"] is None
    assert day["orders"]["note"] == "no comparison: no orders in the 24 h before"
    assert day["revenue"]["EUR"]["value"] == 30.0
    assert day["reach"]["change"] is None and day["reach"]["note"].startswith("no comparison")
    hour = page["by_window"]["1h"]["headline"]
    # The hour before the last: bob's session (ended 24:03) and his order.
    assert hour["sessions"]["previous"] == 1 and hour["sessions"]["change"] == 1.0
    assert hour["orders"]["change"] == -1.0


def test_channel_rows_add_up_to_the_totals(page: dict[str, Any]) -> None:
    day = page["by_window"]["24h"]
    rows = {r["channel"]: r for r in day["channels"] if r["sessions"] or r["orders"]}
    assert {c: (r["sessions"], r["orders"]) for c, r in rows.items()} == {
        "app": (1, 0),  # bob entered on app ...
        "web": (1, 1),  # ... and ordered on web
        "email": (1, 0),
    }
    assert rows["app"]["conversion_rate"] == 1.0 and rows["web"]["conversion_rate"] == 0.0
    assert rows["email"]["bounce_rate"] == 1.0
    assert rows["web"]["revenue"] == {"EUR": 30.0}
    totals = day["totals"]
    for key in ("sessions", "orders"):
        assert sum(r[key] for r in day["channels"]) == totals[key]
    assert sum(r["revenue"]["EUR"] for r in day["channels"]) == totals["revenue"]["EUR"]
    # bob was on app and web: reach by channel adds up to more than the people reached.
    assert totals["reach"] == 3 and sum(r["reach"] for r in day["channels"]) == 4


def test_the_funnel_in_configured_order_with_shares_and_the_largest_drop(
    page: dict[str, Any],
) -> None:
    funnel = page["by_window"]["24h"]["funnel"]
    assert [(s["step"], s["sessions"]) for s in funnel] == [
        ("product", 3),
        ("cart", 2),
        ("checkout", 1),
        ("order", 1),
    ]
    assert [s["of_previous"] for s in funnel] == [None, pytest.approx(2 / 3), 0.5, 1.0]
    assert [s["of_first"] for s in funnel] == [
        None,
        pytest.approx(2 / 3),
        pytest.approx(1 / 3),
        pytest.approx(1 / 3),
    ]
    assert [s["largest_drop"] for s in funnel] == [False, False, True, False]


def test_totals_since_tracking_began_stand_apart(page: dict[str, Any]) -> None:
    since = page["since_start"]
    assert since["events"] == 8
    assert since["orders_total"] == 1
    assert since["revenue_total"] == {"EUR": 30.0}


def test_definitions_are_the_catalogue_help_texts(page: dict[str, Any]) -> None:
    assert page["definitions"]["reach"].startswith(spec("tracker_reach").help)
    assert page["definitions"]["funnel"].startswith(spec("tracker_funnel_sessions_window").help)
    assert page["grafana"] == {}


def test_changes_of_counts_and_rates() -> None:
    assert change(12, 10, rate=False, window="24h", what="orders")["change"] == pytest.approx(0.2)
    assert change(0.3, 0.25, rate=True, window="7d", what="x")["change"] == pytest.approx(0.05)
    assert change(5, 0, rate=False, window="7d", what="orders")["note"] == (
        "no comparison: no orders in the 7 d before"
    )
    assert change(None, 0.5, rate=True, window="1h", what="closed sessions")["note"] == (
        "no comparison: no closed sessions in this window"
    )


def test_grafana_links_point_at_panels_of_the_dashboard() -> None:
    panels = {p["id"]: p for p in json.loads(DASHBOARD.read_text())["panels"]}
    links = grafana_links("https://grafana.example/")
    assert links["funnel"] == (
        "https://grafana.example/d/touchpoints-overview/touchpoints-overview?viewPanel=27"
    )
    for key, panel in GRAFANA_PANELS.items():
        assert panel in panels and panels[panel]["type"] != "row", key
    assert panels[GRAFANA_PANELS["conversion_rate"]]["title"] == "Conversion rate"
    assert panels[GRAFANA_PANELS["funnel"]]["title"].startswith("Funnel")


def test_history_keeps_each_windows_headline(page: dict[str, Any]) -> None:
    history = History()
    history.record(1.0, page)
    (point,) = history.as_list()
    assert point["24h"]["sessions"] == 3 and point["1h"]["sessions"] == 2


def test_no_data_yet() -> None:
    empty = overview(Harness().samples())
    assert empty["has_data"] is False
    assert empty["by_window"]["24h"]["headline"]["conversion_rate"]["value"] is None


def test_the_grafana_url_setting_takes_only_http_urls() -> None:
    from pydantic import ValidationError

    from tracker.settings import Settings

    assert Settings(grafana_url="https://grafana.example/").grafana_url == "https://grafana.example"
    assert Settings().grafana_url == ""
    with pytest.raises(ValidationError):
        Settings(grafana_url="javascript:alert(1)")
