"""Headless Chromium shops in the demo store; the worker's /metrics show the visit.

Debian's ``chromium`` driven by Playwright (``executable_path``: Playwright's own
browser downloads are not available here). A missing browser fails the test: it
never skips. ``make test`` installs it via scripts/install-system-deps.sh.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.integration.browser import ARTIFACTS, CHROMIUM_ARGS, chromium_path
from tests.integration.collector_process import CollectorProcess
from tracker.metrics.samples import total
from tracker.testing.deployment import Deployment, WorkerProcess, wait_until

pytestmark = pytest.mark.browser

SESSION_GAP = 10  # seconds: the visit's session closes soon after the page does


@pytest.fixture
def browser() -> Iterator[Any]:
    executable = chromium_path()  # fails, never skips, when Chromium is missing
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def shop(
    deployment_factory: Callable[..., Deployment],
) -> Iterator[tuple[WorkerProcess, CollectorProcess]]:
    deployment = deployment_factory(
        TRACKER_SESSION_GAP=str(SESSION_GAP),
        TRACKER_IDLE_TIMEOUT="1",
        TRACKER_MAX_OUT_OF_ORDER="0",
    )
    worker = deployment.worker().start()
    collector = CollectorProcess(deployment.env, deployment.root / "collector.log")
    collector.start(TRACKER_COLLECTOR_DEMO="true")
    yield worker, collector
    collector.stop()


def human_user_agent(browser: Any) -> str:
    """The browser's own UA without the "Headless" marker the collector drops as a bot."""
    page = browser.new_page()
    agent: str = page.evaluate("navigator.userAgent")
    page.close()
    return agent.replace("HeadlessChrome/", "Chrome/")


def shop_visit(
    browser: Any, url: str, user_agent: str, consent: bool, screenshot: bool = False
) -> list[str]:
    """Browse, add to cart, buy, give feedback, close the page.

    Returns the resource types of the posts to /v1/events the page made while open."""
    context = browser.new_context(user_agent=user_agent, viewport={"width": 1100, "height": 760})
    page = context.new_page()
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.resource_type) if "/v1/events" in r.url else None)
    page.goto(f"{url}/demo/")
    page.wait_for_selector("#consent-banner:not([hidden])")
    if screenshot:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "demo-shop.png"))
    page.click("#consent-analytics" if consent else "#consent-decline")
    page.click("text=Shoes")
    page.click("text=Trail Runner")
    page.click("#add-to-cart")
    if screenshot:
        page.screenshot(path=str(ARTIFACTS / "demo-shop-product.png"))
    page.click("#cart-link")
    page.click("#to-checkout")
    page.click("#buy")
    page.fill("textarea[name=comment]", "Great shoes, quick checkout")
    page.click("#send-feedback")
    page.wait_for_selector("#feedback-thanks")
    # Closed at once: the feedback is still queued and leaves with sendBeacon on pagehide.
    page.close()
    context.close()
    return posts


def test_a_consented_visit_shows_up_as_a_converted_session(
    browser: Any, shop: tuple[WorkerProcess, CollectorProcess]
) -> None:
    worker, collector = shop
    agent = human_user_agent(browser)
    posts = shop_visit(browser, collector.url, agent, consent=True, screenshot=True)
    assert posts, "the snippet posted events"

    wait_until(
        lambda: total(worker.samples(), "tracker_sessions_closed_total") >= 1,
        60,
        "the visit's session to close",
    )
    wait_until(
        lambda: total(worker.samples(), "tracker_events_total", event_type="feedback") == 1,
        20,
        "the feedback sent by sendBeacon when the page closed",
    )
    s = worker.samples()
    assert total(s, "tracker_sessions_started_total", channel="web") == 1
    assert total(s, "tracker_sessions_closed_total", channel="web") == 1
    assert total(s, "tracker_sessions_interacted_total", channel="web") == 1
    assert total(s, "tracker_sessions_converted_total", channel="web") == 1
    assert total(s, "tracker_sessions_bounced_total") == 0
    assert total(s, "tracker_orders_total", channel="web") == 1
    assert round(total(s, "tracker_revenue_total", currency="EUR"), 2) == 89.90
    assert total(s, "tracker_events_total", event_type="interaction") == 1
    assert total(s, "tracker_events_total", event_type="consent") == 1
    assert total(s, "tracker_events_total", event_type="page_view") == 6
    assert total(s, "tracker_nps_responses_total", category="promoter") == 1
    transitions = "tracker_journey_transitions_total"
    assert total(s, transitions, from_touchpoint="product", to_touchpoint="cart") == 1
    assert total(s, transitions, from_touchpoint="cart", to_touchpoint="checkout") == 1
    assert total(s, "tracker_session_exits_total", touchpoint="survey") == 1
    assert total(s, "tracker_events_dropped_total") == 0
    assert total(s, "tracker_events_rejected_total") == 0
    # The shop's checkout-button test: the visit counts once, in the arm the shop drew.
    experiment = "tracker_experiment_sessions_total"
    assert total(s, experiment, experiment="checkout-button") == 1
    assert total(s, "tracker_experiment_conversions_total", experiment="checkout-button") == 1
    assert collector.metric("tracker_collector_events_total", outcome="rejected") == 0
    assert (ARTIFACTS / "demo-shop.png").stat().st_size > 10_000


def test_without_consent_nothing_is_sent(
    browser: Any, shop: tuple[WorkerProcess, CollectorProcess]
) -> None:
    worker, collector = shop
    agent = human_user_agent(browser)
    posts = shop_visit(browser, collector.url, agent, consent=False)
    time.sleep(3)  # a late beacon would have arrived by now
    assert posts == [], "the browser made no request to the collector"
    assert collector.metric("tracker_collector_requests_total") == 0
    assert collector.metric("tracker_collector_events_total") == 0
    assert total(worker.samples(), "tracker_events_total") == 0


def test_headless_browsers_are_dropped_as_bots(
    browser: Any, shop: tuple[WorkerProcess, CollectorProcess]
) -> None:
    _worker, collector = shop
    agent = human_user_agent(browser).replace("Chrome/", "HeadlessChrome/")
    assert shop_visit(browser, collector.url, agent, consent=True)
    wait_until(
        lambda: collector.metric("tracker_collector_events_total", outcome="bot") > 0,
        20,
        "the collector to drop the headless browser's events",
    )
    assert collector.metric("tracker_collector_bot_requests_total", reason="headlesschrome") > 0
    assert collector.metric("tracker_collector_events_total", outcome="accepted") == 0


def test_a_login_mid_visit_links_the_device_and_reset_starts_a_new_one(
    browser: Any, shop: tuple[WorkerProcess, CollectorProcess]
) -> None:
    """The snippet's identify() after the cart: one person, one converted session through
    every funnel step; reset() at logout: a new anonymous device (docs/identity.md)."""
    worker, collector = shop
    context = browser.new_context(user_agent=human_user_agent(browser))
    page = context.new_page()
    page.goto(f"{collector.url}/demo/")
    page.wait_for_selector("#consent-banner:not([hidden])")
    page.click("#consent-analytics")
    page.click("text=Shoes")
    page.click("text=Trail Runner")
    page.click("#add-to-cart")
    device = page.evaluate("JSON.parse(localStorage.getItem('tracker:v1')).device")
    assert page.evaluate("tracker.identify('cust-browser-1')") is True
    stored = page.evaluate("JSON.parse(localStorage.getItem('tracker:v1'))")
    assert (stored["id"], stored["device"]) == ("cust-browser-1", device)
    page.click("#cart-link")
    page.click("#to-checkout")
    page.click("#buy")
    wait_until(lambda: total(worker.samples(), "tracker_identity_links_total") == 1, 60, "the link")
    assert page.evaluate("tracker.reset()") is True
    assert page.evaluate("JSON.parse(localStorage.getItem('tracker:v1')).device") != device
    page.evaluate("tracker.track('search')")  # the next visitor on this browser
    page.close()
    context.close()
    wait_until(
        lambda: total(worker.samples(), "tracker_sessions_closed_total") >= 2,
        60,
        "both sessions to close",
    )
    s = worker.samples()
    assert total(s, "tracker_events_total", event_type="identify") == 1
    assert total(s, "tracker_sessions_started_total") == 2  # the shopper's, the next visitor's
    assert total(s, "tracker_sessions_merged_total") == 0
    assert total(s, "tracker_sessions_converted_total") == 1
    for step in ("product", "cart", "checkout", "order"):
        assert total(s, "tracker_funnel_sessions_total", step=step) == 1, step
    assert total(s, "tracker_identity_conflicts_total") == 0
