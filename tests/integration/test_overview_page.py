"""The worker's live overview page, in headless Chromium, shows what /metrics says."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from tests.integration.browser import ARTIFACTS, browser_page
from tracker.metrics.samples import total
from tracker.testing.deployment import Deployment, wait_until

pytestmark = pytest.mark.browser


def _tile(page: object, key: str) -> str:
    return page.inner_text(f'.tile[data-key="{key}"] .value')  # type: ignore[attr-defined]


def test_overview_page_matches_metrics(deployment_factory: Callable[..., Deployment]) -> None:
    deployment = deployment_factory(TRACKER_SESSION_GAP="20", TRACKER_IDLE_TIMEOUT="3")
    worker = deployment.worker().start()
    traffic = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tracker",
            "loadgen",
            "--rate",
            "60",
            "--duration",
            "12",
            "--seed",
            "3",
        ],
        env=deployment.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        with browser_page() as page:
            wait_until(lambda: total(worker.samples(), "tracker_events_total") > 20, 60, "traffic")
            page.goto(f"http://127.0.0.1:{worker.port}/")
            page.wait_for_selector("body[data-loaded='1']", timeout=15_000)
            first = int(_tile(page, "events").replace(",", ""))
            assert first > 0, "the page shows live numbers while traffic flows"
            assert traffic.wait(timeout=60) == 0
            # Once traffic stops and sessions close, the numbers settle; the page must agree.
            wait_until(
                lambda: total(worker.samples(), "tracker_sessions_active") == 0,
                90,
                "every session to close",
            )
            time.sleep(1)
            s = worker.samples()
            page.wait_for_timeout(3500)  # one refresh of the page
            assert int(_tile(page, "events").replace(",", "")) == total(s, "tracker_events_total")
            assert int(_tile(page, "orders").replace(",", "")) == total(s, "tracker_orders_total")
            assert int(_tile(page, "reach_24h").replace(",", "")) == total(
                s, "tracker_reach", window="24h", channel="all"
            )
            conversion = total(s, "tracker_conversion_rate", window="24h")
            assert _tile(page, "conversion_rate") == f"{100 * conversion:.1f}%"
            assert page.locator("#funnel .bar").count() >= 1
            assert page.locator("#journeys tr").count() >= 1
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "overview-page.png"), full_page=True)
    finally:
        traffic.kill()
