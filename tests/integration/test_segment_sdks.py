"""The unmodified Segment and RudderStack Python SDKs against a real collector and worker.

Both SDKs batch in a background thread and gzip (RudderStack by default, Segment
when asked); their host is pointed at the collector. The counts that come out of
the worker are worked out by hand from docs/segment.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from rudderstack.analytics.client import Client as RudderClient
from segment.analytics.client import Client as SegmentClient

from tests.integration.collector_process import CollectorProcess
from tracker.metrics.samples import total
from tracker.testing.deployment import Deployment, wait_until

KEYS = "wk-segment,wk-rudder:upstream,wk-rotated-in"
CONSENT = {"consent": {"categoryPreferences": {"Analytics": True, "Advertising": False}}}
SHOPPERS = 6


def _segment_journeys(client: Any) -> None:
    """Per shopper: a page, Product Added, Order Completed (2 x 12.50 EUR); one login."""
    for n in range(SHOPPERS):
        anonymous = f"seg-anon-{n}"
        client.page(anonymous_id=anonymous, name="Home", context=dict(CONSENT))
        client.track(anonymous_id=anonymous, event="Product Added", context=dict(CONSENT))
        client.track(
            anonymous_id=anonymous,
            event="Order Completed",
            properties={
                "order_id": f"o-{n}",
                "total": 25,
                "currency": "EUR",
                "products": [{"price": 12.5, "quantity": 2}],
            },
            context=dict(CONSENT),
        )
    client.identify(user_id="cust-0", anonymous_id="seg-anon-0", context=dict(CONSENT))
    # No consent object and no upstream key: not consented, never stored.
    client.track(anonymous_id="seg-anon-0", event="Newsletter Signup")
    client.page(
        anonymous_id="seg-anon-0",
        name="Home",
        context={"consent": {"categoryPreferences": {"Analytics": False}}},
    )


def _flush(client: Any) -> None:
    client.flush()
    client.join()


def _rudderstack_and_a_stranger(url: str) -> None:
    # RudderStack gzips by default; its key is upstream, so no consent object is needed.
    rudder = RudderClient("wk-rudder", host=url, upload_size=4, max_retries=2)
    for n in range(5):
        rudder.screen(user_id=f"app-user-{n}", name="Catalog")
        rudder.track(user_id=f"app-user-{n}", event="Product Viewed")
    _flush(rudder)
    rejected: list[Any] = []
    stranger = SegmentClient(
        "wk-stolen", host=url, max_retries=0, on_error=lambda e, _batch: rejected.append(e)
    )
    stranger.page(anonymous_id="x", name="Home", context=dict(CONSENT))
    _flush(stranger)
    assert rejected and getattr(rejected[0], "status", None) == 401


def test_segment_and_rudderstack_sdks_count_exactly(
    deployment_factory: Callable[..., Deployment],
) -> None:
    deployment = deployment_factory()
    collector = CollectorProcess(
        {**deployment.env, "TRACKER_WRITE_KEYS": KEYS}, deployment.root / "collector.log"
    ).start()
    worker = deployment.worker().start()
    errors: list[Any] = []
    try:
        segment = SegmentClient(
            "wk-segment",
            host=collector.url,
            gzip=True,
            upload_size=5,
            max_retries=2,
            on_error=lambda e, _batch: errors.append(e),
        )
        _segment_journeys(segment)
        _flush(segment)
        assert errors == [], errors
        _rudderstack_and_a_stranger(collector.url)
        # By hand: Segment 6 pages, 6 add_to_cart, 6 orders, 1 identify; RudderStack
        # 5 screens (app) and 5 product views (web: a server library).
        expected = {"page_view": 6 + 10, "interaction": 6, "order": 6, "identify": 1}
        wait_until(
            lambda: total(worker.samples(), "tracker_events_total") >= sum(expected.values()),
            60,
            "the worker to count the SDKs' events",
        )
        time.sleep(2)  # anything further in flight would be counted by now
        samples = worker.samples()
        for event_type, count in expected.items():
            assert total(samples, "tracker_events_total", event_type=event_type) == count
        assert total(samples, "tracker_events_received_total") == sum(expected.values())
        assert total(samples, "tracker_events_total", event_type="page_view", channel="app") == 5
        assert total(samples, "tracker_orders_total") == 6
        assert total(samples, "tracker_identity_links_total") == 1, "seg-anon-0 is cust-0"
        assert total(samples, "tracker_revenue_total", currency="EUR") == pytest.approx(150)
        assert total(samples, "tracker_events_dropped_total") == 0

        metric = collector.metric
        assert metric("tracker_segment_messages_total", outcome="accepted") == 29
        assert metric("tracker_segment_messages_total", outcome="no_consent") == 2
        assert metric("tracker_segment_auth_failures_total", reason="unknown_key") == 1
        batches = metric("tracker_segment_requests_total", code="200")
        assert 2 < batches < 31 - 5, "the SDKs batched their calls"
    finally:
        collector.stop()
