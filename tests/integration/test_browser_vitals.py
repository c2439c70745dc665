"""Headless Chromium loads the demo shop; the worker receives real web vitals from it.

The snippet's bundled web-vitals library measures the page load once consent is
given (it reads the browser's buffered entries) and reports LCP at the next
click and CLS when the page is hidden; the worker's histogram and the session's
LCP class show them. A missing browser fails the test: it never skips.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.integration.browser import CHROMIUM_ARGS, chromium_path
from tests.integration.collector_process import CollectorProcess
from tracker.metrics.samples import Sample
from tracker.testing.deployment import Deployment, WorkerProcess, wait_until

pytestmark = pytest.mark.browser


def of(samples: list[Sample], metric: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(v for n, lab, v in samples if n == metric and wanted <= set(lab))


@pytest.fixture
def browser() -> Iterator[Any]:
    executable = chromium_path()
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
        TRACKER_SESSION_GAP="10", TRACKER_IDLE_TIMEOUT="1", TRACKER_MAX_OUT_OF_ORDER="0"
    )
    worker = deployment.worker().start()
    collector = CollectorProcess(deployment.env, deployment.root / "collector.log")
    collector.start(TRACKER_COLLECTOR_DEMO="true")
    yield worker, collector
    collector.stop()


def visit(browser: Any, url: str, consent: bool) -> list[dict[str, Any]]:
    """Land on the shop, answer the banner, browse a little, leave. Returns the vitals sent."""
    page = browser.new_page()
    agent = page.evaluate("navigator.userAgent").replace("HeadlessChrome/", "Chrome/")
    page.close()
    context = browser.new_context(user_agent=agent, viewport={"width": 1100, "height": 760})
    page = context.new_page()
    sent: list[dict[str, Any]] = []

    def record(request: Any) -> None:
        if "/v1/events" in request.url and request.post_data:
            import json

            body = json.loads(request.post_data)
            sent.extend(e for e in body if e.get("event_type") == "web_vital")

    page.on("request", record)
    page.goto(f"{url}/demo/")
    page.wait_for_selector("#consent-banner:not([hidden])")
    page.click("#consent-analytics" if consent else "#consent-decline")
    page.click("text=Shoes")  # the first input after consent: LCP is final and reported
    page.click("text=Trail Runner")
    page.wait_for_timeout(1500)  # the snippet's one-second flush
    page.close()  # hidden: CLS (and INP) are reported and leave with sendBeacon
    context.close()
    return sent


def test_real_web_vitals_arrive_from_the_demo_shop(
    browser: Any, shop: tuple[WorkerProcess, CollectorProcess]
) -> None:
    worker, collector = shop
    sent = visit(browser, collector.url, consent=True)
    names = {e["name"] for e in sent}
    assert {"TTFB", "FCP", "LCP"} <= names, names
    for event in sent:
        assert 0 <= event["value"] < 60_000, event  # milliseconds (CLS: a small fraction)
        assert event["navigation_type"] == "navigate"
        assert event["touchpoint"] == "home"  # the page load measured, however far the app got
    wait_until(
        lambda: of(worker.samples(), "tracker_sessions_closed_total") >= 1,
        60,
        "the visit's session to close",
    )
    s = worker.samples()
    for name in ("TTFB", "FCP", "LCP"):
        count = of(s, "tracker_web_vital_count", name=name)
        assert count >= 1, name
        seconds = of(s, "tracker_web_vital_sum", name=name) / count
        assert 0 < seconds < 60, (name, seconds)
    [lcp] = [e for e in sent if e["name"] == "LCP"]
    assert lcp["touchpoint"] == "home"  # the landing page's, reported at the first click
    # The session's LCP class is that LCP's rating: one closed session, measured.
    assert of(s, "tracker_sessions_closed_by_lcp_total", lcp_class=lcp["rating"]) == 1
    assert of(s, "tracker_sessions_closed_by_lcp_total", lcp_class="unmeasured") == 0
    assert of(s, "tracker_events_rejected_total") == 0
    assert collector.metric("tracker_collector_events_total", outcome="rejected") == 0


def test_no_vitals_without_consent(
    browser: Any, shop: tuple[WorkerProcess, CollectorProcess]
) -> None:
    worker, collector = shop
    assert visit(browser, collector.url, consent=False) == []
    assert collector.metric("tracker_collector_requests_total") == 0
    assert of(worker.samples(), "tracker_web_vital_count") == 0
