"""The worker's overview page on `tracker demo`, in headless Chromium: live, true to /metrics,
accessible; and its states when there is no data yet or the broker is gone."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.browser import ARTIFACTS, axe_violations, browser_page
from tests.support.tcp_proxy import ProxiedBroker, start_proxied_broker
from tracker.core.experiment_stats import sample_size
from tracker.metrics.samples import parse_exposition, total
from tracker.testing.demo_process import Demo, running_demo
from tracker.testing.deployment import make_deployment

pytestmark = pytest.mark.browser


def _value(page: Any, key: str, box: str = "headline") -> float:
    text = page.inner_text(f'#{box} [data-card="{key}"] .value')
    return float(text.replace(",", "").rstrip("%"))


def _metrics(demo: Demo) -> list[Any]:
    import urllib.request

    # 30 s: the demo's worker shares two cores with its load, Chromium and the broker.
    with urllib.request.urlopen(demo.overview_url + "metrics", timeout=30) as r:
        return parse_exposition(r.read().decode())


def _next_refresh(page: Any) -> None:
    """Wait for the page's next render (it refreshes every 3 s)."""
    before = page.inner_text("#status")
    page.wait_for_function(
        "before => document.getElementById('status').textContent !== before", arg=before
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with running_demo(tmp_path_factory.mktemp("demo")) as running:
        running.wait_for(
            lambda page: (
                page["by_window"]["24h"]["totals"]["sessions"] >= 5
                and page["by_window"]["24h"]["totals"]["orders"] >= 1
            ),
            180,
        )
        yield running


def test_the_demo_page_is_live_and_agrees_with_metrics(demo: Demo) -> None:
    with browser_page() as page:
        page.goto(demo.overview_url)
        page.wait_for_selector("body[data-loaded='1']", timeout=15_000)
        assert page.locator("#no-data").is_hidden() and page.locator("#broker-lost").is_hidden()
        # Counters only grow: the page's figure lies between two reads of /metrics around it.
        before = _metrics(demo)
        _next_refresh(page)
        events = _value(page, "events", "totals")
        sessions = _value(page, "sessions")
        after = _metrics(demo)
        assert (
            total(before, "tracker_events_total") <= events <= total(after, "tracker_events_total")
        )
        closed = [
            total(s, "tracker_sessions_closed_window", window="24h", channel="all")
            for s in (before, after)
        ]
        assert closed[0] <= sessions <= closed[1]
        steps = [page.locator("#funnel li").nth(i).get_attribute("data-step") for i in range(4)]
        assert steps == ["product", "cart", "checkout", "order"]
        assert page.locator("#channels tbody tr[data-channel]").count() >= 2
        page.click('button[data-window="1h"]')
        assert page.inner_text('#headline [data-card="sessions"] .scope') == "last 1 h"
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "overview-page.png"), full_page=True)


READ_SECTION = """() => {
  const rows = sel => [...document.querySelectorAll(sel)].map(
    tr => [tr.dataset.touchpoint || tr.dataset.lcpClass, ...[...tr.cells].slice(1).map(td => td.innerText)]);
  const text = sel => document.querySelector(sel).innerText;
  return {
    lcp: rows("#exp-lcp tbody tr[data-touchpoint]"),
    lcp_p75: text('#exp-load-cards [data-card="lcp_p75"] .value'),
    by_class: rows("#exp-lcp-conversion tbody tr[data-lcp-class]"),
    new: text('#exp-customer-cards [data-card="customers_new"] .value'),
    first_reply: text('#exp-support-channels tfoot [data-col="first_response"]'),
    text: text("#experience"),
  };
}"""


# Hand-overs of logins counted before a scrape but not yet landed on both sides: each
# takes well under a second, and the demo links about one login a second.
IN_FLIGHT_HAND_OVERS = 3


def _lcp_loads(samples: list[Any], touchpoint: str) -> float:
    wanted = {("name", "LCP"), ("touchpoint", touchpoint)}
    return sum(v for n, lab, v in samples if n == "tracker_web_vital_count" and wanted <= set(lab))


def test_the_customer_experience_section_shows_the_demos_vitals_and_support(demo: Demo) -> None:
    """The demo's traffic carries web vitals and support tickets: the section shows them."""
    demo.wait_for(
        lambda page: (
            page["experience"]["load_times"]["all"] is not None
            and page["experience"]["support"]["all"]["first_response_p90"] is not None
        ),
        180,
    )
    with browser_page() as page:
        page.goto(demo.overview_url)
        page.wait_for_selector("body[data-loaded='1']", timeout=15_000)
        before = _metrics(demo)
        # The page's own refresh, started after that scrape, and the DOM read right after its
        # render in the same task: neither a fetch in flight since before the scrape (whose
        # older figures would render next) nor a refresh can fall between two figures.
        shown = page.evaluate(f"async () => {{ await refresh(); return ({READ_SECTION})(); }}")
        after = _metrics(demo)
        page.click('button[data-window="1h"]')
        scope = page.inner_text('#exp-customer-cards [data-card="customers_new"] .scope')
    loads = {row[0]: float(row[3].replace(",", "")) for row in shown["lcp"]}
    assert loads and {row[2] for row in shown["lcp"]} <= {"good", "needs improvement", "poor"}
    for touchpoint, n in loads.items():
        counts = [_lcp_loads(s, touchpoint) for s in (before, after)]
        assert counts[0] <= n <= counts[1], touchpoint
    assert re.fullmatch(r"(over )?\d+\.\d\d s", shown["lcp_p75"]), shown["lcp_p75"]
    closed = [
        total(s, "tracker_sessions_closed_by_lcp_window", window="24h") for s in (before, after)
    ]
    by_class = sum(float(row[1].replace(",", "")) for row in shown["by_class"])
    assert len(shown["by_class"]) == 4 and closed[0] <= by_class <= closed[1]
    customers = [
        total(s, "tracker_customers_new", window="24h", channel="all") for s in (before, after)
    ]
    # Not monotonic: a login merges a new device into its customer (one person, counted
    # once) and an erasure takes a customer out, each at most one less; a hand-over in
    # flight at the first scrape can land either side of the page's read.
    moved = sum(
        total(after, name) - total(before, name)
        for name in ("tracker_identity_links_total", "tracker_erasures_total")
    )
    slack = moved + IN_FLIGHT_HAND_OVERS
    new = float(shown["new"].replace(",", ""))
    assert customers[0] - slack <= new <= customers[1] + slack and new > 0, (customers, slack)
    first_reply = shown["first_reply"]
    assert re.fullmatch(r"(over )?\d+(\.\d)? (s|min|h|d)", first_reply), first_reply
    assert "NaN" not in shown["text"] and "undefined" not in shown["text"]
    assert scope == "last 1 h"  # the window switch redraws the section too


READ_EXPERIMENTS = """() => ({
  rows: [...document.querySelectorAll("#exp-experiments tbody tr[data-variant]")].map(tr => ({
    experiment: tr.dataset.experiment, variant: tr.dataset.variant,
    ...Object.fromEntries([...tr.querySelectorAll("td[data-col]")].map(td => [td.dataset.col, td.innerText]))})),
  text: document.getElementById("exp-experiments").innerText,
})"""
WAIT = "not yet: wait for the horizon"


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def test_the_live_experiments_block_shows_the_demos_checkout_button_test(demo: Demo) -> None:
    """The demo's traffic is in the checkout-button test: its arms agree with /metrics, and
    the p-value stays hidden until every arm reaches the sample size."""
    demo.wait_for(
        lambda page: any(
            x["sample_size"] is not None and all(r["sessions"] for r in x["variants"])
            for x in page["experience"]["experiments"]
        ),
        240,
    )
    with browser_page() as page:
        page.goto(demo.overview_url)
        page.wait_for_selector("body[data-loaded='1']", timeout=15_000)
        before = _metrics(demo)
        _next_refresh(page)
        shown = page.evaluate(READ_EXPERIMENTS)
        after = _metrics(demo)
    rows = {r["variant"]: r for r in shown["rows"] if r["experiment"] == "checkout-button"}
    assert list(rows) == ["control", "green", "blue"]  # the control first, as configured
    for variant, row in rows.items():
        at = {"experiment": "checkout-button", "variant": variant}
        for col in ("sessions", "conversions"):
            counts = [total(s, f"tracker_experiment_{col}_total", **at) for s in (before, after)]
            assert counts[0] <= _number(row[col]) <= counts[1], (variant, col)
        rate = _number(row["conversions"]) / _number(row["sessions"])
        assert abs(float(row["conversion_rate"].rstrip("%")) - 100 * rate) <= 0.05 + 1e-9
    # One worker: the horizon is the worker's formula over the control's counts on the page.
    control = rows["control"]
    horizon = sample_size(_number(control["conversions"]) / _number(control["sessions"]), 0.1)
    progress = {
        v: re.fullmatch(r"(\d+) % of ([\d,]+)( · reached)?", r["progress"]) for v, r in rows.items()
    }
    for variant, match in progress.items():
        assert match is not None and _number(match[2]) == horizon, rows[variant]["progress"]
        sessions = _number(rows[variant]["sessions"])
        assert int(match[1]) == min(100, int(100 * (sessions / horizon)))
        assert bool(match[3]) == (sessions >= horizon)
    assert control["p_value"] == "control"
    if not all(m and m[3] for m in progress.values()):  # the demo seldom runs that long
        assert [rows[v]["p_value"] for v in ("green", "blue")] == [WAIT, WAIT]
    else:
        assert all(
            re.fullmatch(r"(< )?0\.\d{3} · .*", rows[v]["p_value"]) for v in ("green", "blue")
        )
    assert "since each experiment started; not windowed" in shown["text"]
    assert "NaN" not in shown["text"] and "undefined" not in shown["text"]


def test_the_demo_page_passes_wcag_aa_in_light_and_dark(demo: Demo) -> None:
    with browser_page() as page:
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            page.goto(demo.overview_url + "?window=7d")
            page.wait_for_selector("body[data-loaded='1']", timeout=15_000)
            assert axe_violations(page) == [], scheme


@pytest.fixture
def proxied_broker(tmp_path: Path) -> Iterator[ProxiedBroker]:
    broker = start_proxied_broker(tmp_path / "tansu")
    yield broker
    broker.stop()


def test_no_data_yet_then_broker_lost_then_worker_gone(
    proxied_broker: ProxiedBroker, tmp_path: Path
) -> None:
    deployment = make_deployment(proxied_broker.handle, tmp_path / "d", TRACKER_PARTITIONS="2")
    worker = deployment.worker().start()
    try:
        with browser_page() as page:
            page.goto(f"http://127.0.0.1:{worker.port}/")
            page.wait_for_selector("body[data-loaded='1']", timeout=15_000)
            assert page.locator("#no-data").is_visible()
            assert page.inner_text('#headline [data-card="sessions"] .value') == "0"
            experience = page.inner_text("#experience")
            assert "no data yet: no page load measured" in experience and "NaN" not in experience
            assert "no data yet: no session closed in this experiment" in experience
            proxied_broker.proxy.down()
            page.wait_for_selector("#broker-lost:not([hidden])", timeout=60_000)
            assert "Lost the broker" in page.inner_text("#broker-lost")
            proxied_broker.proxy.up()
            page.wait_for_selector("#broker-lost[hidden]", state="attached", timeout=60_000)
            worker.stop()
            page.wait_for_selector("#unreachable:not([hidden])", timeout=15_000)
            assert "Cannot reach the worker" in page.inner_text("#unreachable")
    finally:
        deployment.stop()
