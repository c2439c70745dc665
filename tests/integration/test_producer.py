"""A backend's orders through tracker.producer, a browser's pages through the collector.

One customer's events from both land on one partition and in one session; a retried
send counts once; ``tracker send`` validates before it sends.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime

import orjson
import pytest

from tests.integration.collector_process import CollectorProcess, web_event
from tracker.metrics.samples import total
from tracker.producer import TrackerProducer, new_event
from tracker.settings import load_settings
from tracker.testing.deployment import Deployment, wait_until

CONSENT = {"analytics": True, "marketing": False}


async def _send_order_twice(deployment: Deployment) -> None:
    settings = load_settings(topic=deployment.env["TRACKER_TOPIC"])
    order = new_event(
        "order",
        customer_id="c-42",
        channel="web",
        touchpoint="checkout",
        consent=CONSENT,
        order_id="o-981",
        revenue="42.50",
        currency="EUR",
    )
    async with TrackerProducer(settings, deployment.broker.bootstrap) as producer:
        delivery = await producer.send(order)
        assert (delivery.events, delivery.messages) == (1, 1)
        await producer.send(order)  # a retry after a lost acknowledgement: same event id


def test_backend_orders_and_browser_pages_make_one_session(
    deployment_factory: Callable[..., Deployment],
) -> None:
    deployment = deployment_factory()
    collector = CollectorProcess(deployment.env, deployment.root / "collector.log").start()
    worker = deployment.worker().start()
    try:
        pages = [web_event("page_view", "c-42", touchpoint=t) for t in ("product", "checkout")]
        assert collector.post(pages)[0] == 202
        asyncio.run(_send_order_twice(deployment))
        wait_until(lambda: total(worker.samples(), "tracker_orders_total") >= 1, 60, "the order")
        time.sleep(2)
        samples = worker.samples()
        assert total(samples, "tracker_events_total") == 3
        assert total(samples, "tracker_events_dropped_total", reason="duplicate") == 1
        assert total(samples, "tracker_sessions_started_total") == 1, "one session, not two"
        assert total(samples, "tracker_sessions_active") == 1
        assert total(samples, "tracker_revenue_total", currency="EUR") == pytest.approx(42.5)
    finally:
        collector.stop()


def test_tracker_send_validates_first_then_confirms(
    deployment_factory: Callable[..., Deployment],
) -> None:
    deployment = deployment_factory()
    good = {"event_type": "page_view", "customer_id": "c-7", "channel": "store",
            "touchpoint": "store", "consent": CONSENT}  # fmt: skip
    stamp = datetime.now(UTC).isoformat()
    lines = [orjson.dumps(good), orjson.dumps({**good, "occurred_at": stamp, "event_id": "e-2"})]
    deployment.root.mkdir(parents=True, exist_ok=True)
    bad = deployment.root / "bad.jsonl"
    bad.write_bytes(b"\n".join([*lines, orjson.dumps({**good, "channel": "fax"})]))
    with pytest.raises(subprocess.CalledProcessError) as refused:
        deployment.tracker("send", str(bad))
    assert "line 3" in refused.value.stderr and "nothing sent" in refused.value.stderr
    fine = deployment.root / "fine.jsonl"
    fine.write_bytes(b"\n".join(lines))
    result = deployment.tracker("send", str(fine))
    assert "sent 2 events in 1 messages" in result.stdout
    worker = deployment.worker().start()
    wait_until(lambda: total(worker.samples(), "tracker_events_total") >= 2, 60, "the events")
    time.sleep(1)
    assert total(worker.samples(), "tracker_events_total") == 2, "the refused file sent nothing"
