"""The overview page on a small stream whose figures are worked out by hand.

Seven customers, event times relative to the start of the test (T), session gap 5 min:

    ana  web    product, cart, checkout T-20..-18 min, order web EUR 40 at T-17 min
    ben  app    product, cart at T-30, -29 min                      (2 page views)
    cleo email  product at T-40 min                                 (bounced)
    dan  web    product at T-3 h, order on channel app EUR 10 at T-3 h+1 min
    eva  social home at T-30 h                                      (bounced)
    finn web    product at T-30 h, order web EUR 25 at T-30 h+1 min
    gus  store  product at T-3 d                                    (bounced)

Funnel product > cart > checkout > order (ordered: dan's order skips cart, so he
reaches product only). By hand:

    window  sessions  bounced  converted  orders  EUR  funnel    reach
    1 h     3         1 (cleo) 1 (ana)    1       40   3 2 1 1   3
    24 h    4         1        2 (+dan)   2       50   4 2 1 1   4
    7 d     7         3        3 (+finn)  3       75   6 2 1 1   7
    the 24 h before the last 24 h: sessions 2, bounced 1, converted 1, orders 1, EUR 25;
    the 1 h before the last hour: nothing.

Channel table, 24 h: sessions by entry channel (web ana+dan, app ben, email cleo),
orders and revenue by the order's channel (web ana 40, app dan 10), reach by each
event's channel (web ana+dan, app ben+dan, email cleo: 5, more than the 4 people).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.deploy.test_grafana_dashboard import funnel_panel
from tests.integration.browser import ARTIFACTS, axe_violations, browser_page
from tests.support.prometheus import Prometheus
from tracker.kafka.broker import BrokerHandle
from tracker.metrics.catalogue import spec
from tracker.metrics.samples import total
from tracker.testing.deployment import Deployment, WorkerProcess, make_deployment, wait_until

pytestmark = pytest.mark.browser

GRAFANA = "http://grafana.example:3000"
STEPS = ("product", "cart", "checkout", "order")


def _stream(now: datetime) -> list[dict[str, Any]]:
    def ev(who: str, kind: str, ago: timedelta, channel: str, **extra: Any) -> dict[str, Any]:
        return {
            "schema_version": 1,
            "event_type": kind,
            "customer_id": who,
            "occurred_at": (now - ago).isoformat(),
            "channel": channel,
            "touchpoint": "product",
            "consent": {"analytics": True, "marketing": False},
            **extra,
        }

    def order(who: str, ago: timedelta, channel: str, revenue: str, **extra: Any) -> Any:
        return ev(
            who,
            "order",
            ago,
            channel,
            order_id=f"{who}-o",
            revenue=revenue,
            currency="EUR",
            **extra,
        )

    m, h, d = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
    events = [
        ev("gus", "page_view", 3 * d, "store"),
        ev("eva", "page_view", 30 * h, "social", touchpoint="home"),
        ev("finn", "page_view", 30 * h, "web"),
        order("finn", 30 * h - m, "web", "25.00"),
        ev("dan", "page_view", 3 * h, "web"),
        order("dan", 3 * h - m, "app", "10.00"),
        ev("cleo", "page_view", 40 * m, "email"),
        ev("ben", "page_view", 30 * m, "app"),
        ev("ben", "page_view", 29 * m, "app", touchpoint="cart"),
        ev("ana", "page_view", 20 * m, "web"),
        ev("ana", "page_view", 19 * m, "web", touchpoint="cart"),
        ev("ana", "page_view", 18 * m, "web", touchpoint="checkout"),
        order("ana", 17 * m, "web", "40.00", touchpoint="checkout"),
    ]
    for n, event in enumerate(events):
        event["event_id"] = f"figures-{n}"
    return events


@dataclass
class Stream:
    worker: WorkerProcess
    prometheus: Prometheus

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.worker.port}/"


@pytest.fixture(scope="module")
def stream(
    embedded_broker: BrokerHandle, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stream]:
    root = tmp_path_factory.mktemp("figures")
    deployment: Deployment = make_deployment(
        embedded_broker,
        root,
        TRACKER_SESSION_GAP="300",
        TRACKER_IDLE_TIMEOUT="5",
        TRACKER_GRAFANA_URL=GRAFANA,
    )
    worker = deployment.worker().start()
    prometheus = Prometheus(root / "prometheus", {"tracker-worker": [f"127.0.0.1:{worker.port}"]})
    try:
        with prometheus:
            lines = root / "stream.jsonl"
            events = _stream(datetime.now(UTC))
            lines.write_text("".join(json.dumps(e) + "\n" for e in events))
            deployment.tracker("replay", str(lines))
            wait_until(
                lambda: (
                    total(worker.samples(), "tracker_sessions_closed_total") == 7
                    and total(worker.samples(), "tracker_sessions_active") == 0
                ),
                90,
                "the seven sessions to close",
            )
            yield Stream(worker, prometheus)
    finally:
        deployment.stop()


def _open(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("body[data-loaded='1']", timeout=15_000)


def _card(page: Any, key: str, part: str = "value") -> str:
    return str(page.inner_text(f'#headline [data-card="{key}"] .{part}'))


def _funnel(page: Any) -> list[tuple[str, str, str]]:
    rows = page.locator("#funnel li")
    return [
        (
            rows.nth(i).get_attribute("data-step"),
            rows.nth(i).locator(".count").inner_text(),
            rows.nth(i).locator(".shares").inner_text(),
        )
        for i in range(rows.count())
    ]


def _channels(page: Any) -> dict[str, dict[str, str]]:
    table: dict[str, dict[str, str]] = {}
    rows = page.locator("#channels tr[data-channel]")
    for i in range(rows.count()):
        row = rows.nth(i)
        cells = row.locator("td[data-col]")
        table[str(row.get_attribute("data-channel"))] = {
            str(cells.nth(j).get_attribute("data-col")): cells.nth(j).inner_text()
            for j in range(cells.count())
        }
    return table


def test_24h_cards_funnel_and_channel_table_as_worked_out_by_hand(stream: Stream) -> None:
    with browser_page() as page:
        _open(page, stream.url)
        assert page.get_attribute('button[data-window="24h"]', "aria-pressed") == "true"
        assert _card(page, "reach") == "4"
        assert _card(page, "sessions") == "4"
        assert _card(page, "bounce_rate") == "25.0%"
        assert _card(page, "conversion_rate") == "50.0%"
        assert _card(page, "orders") == "2"
        assert _card(page, "revenue") == "EUR 50.00"
        assert _card(page, "sessions", "scope") == "last 24 h"
        # Against the 24 h before: 2 sessions, 50% bounced, 50% converted, 1 order, EUR 25.
        assert _card(page, "sessions", "change") == "▲ 100.0% vs the 24 h before"
        assert _card(page, "bounce_rate", "change") == "▼ 25.0 pts vs the 24 h before"
        assert _card(page, "conversion_rate", "change") == "■ 0.0 pts vs the 24 h before"
        assert _card(page, "orders", "change") == "▲ 100.0% vs the 24 h before"
        assert _card(page, "revenue", "change") == "EUR: ▲ 100.0% vs the 24 h before"
        assert _card(page, "reach", "change").startswith("no comparison: a person counts once")
        assert _funnel(page) == [
            ("product", "4", "first step"),
            ("cart", "2", "50.0% of the step before · 50.0% of the first largest drop"),
            ("checkout", "1", "50.0% of the step before · 25.0% of the first"),
            ("order", "1", "100.0% of the step before · 25.0% of the first"),
        ]
        assert _channels(page) == {
            "web": _row("2", "2", "0.0%", "100.0%", "1", "40.00"),  # dan converted too
            "app": _row("2", "1", "0.0%", "0.0%", "1", "10.00"),
            "email": _row("1", "1", "100.0%", "0.0%", "0", "0.00"),
            "all": _row("4", "4", "25.0%", "50.0%", "2", "50.00"),
        }
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "overview-figures.png"), full_page=True)


def _row(reach: str, sessions: str, bounce: str, conversion: str, orders: str, eur: str) -> Any:
    return {
        "reach": reach,
        "sessions": sessions,
        "bounce_rate": bounce,
        "conversion_rate": conversion,
        "orders": orders,
        "revenue-EUR": eur,
    }


def test_the_window_switch_drives_every_figure_and_the_url(stream: Stream) -> None:
    with browser_page() as page:
        _open(page, stream.url)
        page.click('button[data-window="1h"]')
        assert page.url.endswith("?window=1h")
        assert page.get_attribute('button[data-window="1h"]', "aria-pressed") == "true"
        assert _card(page, "sessions") == "3"
        assert _card(page, "sessions", "scope") == "last 1 h"
        assert _card(page, "conversion_rate") == "33.3%"
        assert (
            _card(page, "sessions", "change")
            == "no comparison: no closed sessions in the 1 h before"
        )
        assert [(s, n) for s, n, _ in _funnel(page)] == [
            ("product", "3"),
            ("cart", "2"),
            ("checkout", "1"),
            ("order", "1"),
        ]
        assert "largest drop" in _funnel(page)[2][2]  # checkout keeps 50% of cart
        assert set(_channels(page)) == {"web", "app", "email", "all"}
        assert _channels(page)["app"]["orders"] == "0"  # dan's order is 3 h old
        # The URL alone opens a window; an unknown one falls back to 24 h.
        _open(page, stream.url + "?window=7d")
        assert page.get_attribute('button[data-window="7d"]', "aria-pressed") == "true"
        assert _card(page, "sessions") == "7"
        assert _card(page, "revenue") == "EUR 75.00"
        assert [n for _, n, _ in _funnel(page)] == ["6", "2", "1", "1"]
        assert set(_channels(page)) == {"web", "app", "email", "social", "store", "all"}
        _open(page, stream.url + "?window=2y")
        assert _card(page, "sessions") == "4"


def test_definitions_on_focus_grafana_links_and_the_keyboard(stream: Stream) -> None:
    with browser_page() as page:
        _open(page, stream.url)
        reach_help = spec("tracker_reach").help
        for _ in range(12):  # the window buttons, then the first cards
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.dataset.card") == "reach":
                break
        assert page.evaluate("document.activeElement.dataset.card") == "reach"
        tip = page.locator('#headline [data-card="reach"] .tip')
        assert tip.is_visible() and tip.inner_text().startswith(reach_help)
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Enter")  # a window button works from the keyboard
        page.mouse.move(0, 0)
        assert page.locator('#headline [data-card="reach"] .tip').is_hidden()
        page.hover('#headline [data-card="conversion_rate"]')
        assert (
            page.locator('#headline [data-card="conversion_rate"] .tip')
            .inner_text()
            .startswith(spec("tracker_conversion_rate").help)
        )
        link = page.get_attribute('#headline [data-card="conversion_rate"] .links a', "href")
        window = page.evaluate("document.body.dataset.window")
        assert link == (
            f"{GRAFANA}/d/touchpoints-overview/touchpoints-overview?viewPanel=11&var-window={window}"
        )


def test_wcag_aa_in_light_and_dark_mode(stream: Stream) -> None:
    with browser_page() as page:
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            _open(page, stream.url)
            page.hover('#headline [data-card="reach"]')  # a tooltip open, too
            assert axe_violations(page) == [], scheme
            page.screenshot(path=str(ARTIFACTS / f"overview-{scheme}.png"), full_page=True)


def test_the_grafana_funnel_query_keeps_the_configured_order(stream: Stream) -> None:
    """The panel's query on a real Prometheus, rows sorted as its transformation sorts them."""
    expr = funnel_panel()["targets"][0]["expr"].replace("$__range", "10m")
    wait_until(
        lambda: len(stream.prometheus.query(expr)["data"]["result"]) == len(STEPS),
        60,
        "Prometheus to scrape the funnel",
    )
    rows = sorted(
        stream.prometheus.query(expr)["data"]["result"],
        key=lambda r: float(r["metric"]["position"]),
    )
    assert [r["metric"]["step"] for r in rows] == list(STEPS)
    assert [r["metric"]["position"] for r in rows] == ["1", "2", "3", "4"]


def test_refresh_updates_in_place_without_flicker(stream: Stream) -> None:
    """A refresh keeps the cards, rows and focus: nothing blinks or loses the reader's place."""
    with browser_page() as page:
        _open(page, stream.url)
        page.focus('#headline [data-card="orders"]')
        page.evaluate(
            "window.removed = 0; new MutationObserver(ms => ms.forEach(m => m.removedNodes.forEach("
            "n => { if (n.dataset && n.dataset.card) window.removed++; }))).observe(document.body,"
            " {childList: true, subtree: true});"
            "document.querySelector('#headline [data-card=orders]').marked = true;"
        )
        before = page.inner_text("#status")
        page.wait_for_function(
            "before => document.getElementById('status').textContent !== before", arg=before
        )
        assert page.evaluate("window.removed") == 0
        assert page.evaluate("document.activeElement.marked === true")
        assert page.evaluate("document.activeElement.dataset.card") == "orders"
