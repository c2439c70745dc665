"""The collector process against a real broker, and a real worker counting what it wrote."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from tests.integration.collector_process import CollectorProcess, read_topic, web_event
from tests.integration.secret_leaks import WITH_UNUSED_SASL_PASSWORD, assert_no_secrets
from tests.support.tcp_proxy import ProxiedBroker, start_proxied_broker
from tracker.metrics.samples import total
from tracker.testing.deployment import Deployment, make_deployment, wait_until


def collector_for(deployment: Deployment, **settings: str) -> CollectorProcess:
    return CollectorProcess({**deployment.env, **settings}, deployment.root / "collector.log")


def test_accepted_events_land_in_the_topic_keyed_by_customer(
    deployment_factory: Callable[..., Deployment],
) -> None:
    deployment = deployment_factory(**WITH_UNUSED_SASL_PASSWORD)
    collector = collector_for(deployment).start()
    try:
        ana = [web_event("page_view", "ana"), web_event("interaction", "ana")]
        # A device whose clock runs three days fast: sent_at goes through as sent.
        skewed = (datetime.now(UTC) + timedelta(days=3)).isoformat(timespec="milliseconds")
        ben = [web_event("page_view", "ben", sent_at=skewed)]
        invalid = web_event("order", "ana", currency="euro")
        before_ms = time.time_ns() // 1_000_000
        status, body, _ = collector.post([ana[0], ben[0], invalid, ana[1]])
        after_ms = time.time_ns() // 1_000_000
        assert status == 202, body
        assert body["accepted"] == 3
        assert [r["event_id"] for r in body["rejected"]] == [invalid["event_id"]]

        status, body, _ = collector.post([invalid])  # nothing valid: nothing written
        assert status == 400 and body["rejected"][0]["index"] == 0

        records = read_topic(deployment.broker.bootstrap, deployment.env["TRACKER_TOPIC"])
        by_key = {r.key: orjson.loads(r.value) for r in records}
        assert sorted(by_key) == [b"ana", b"ben"], "one message per customer, keyed by it"
        assert by_key[b"ana"] == ana, "the customer's events in order, as sent"
        assert by_key[b"ben"][0]["sent_at"] == skewed, "sent_at kept for skew"
        for record in records:
            assert before_ms <= record.timestamp <= after_ms, "record time = receive time"

        assert collector.metric("tracker_collector_events_total", outcome="accepted") == 3
        assert collector.metric("tracker_collector_events_total", outcome="rejected") == 2
        assert collector.metric("tracker_collector_requests_total", code="202") == 1
        assert collector.metric("tracker_collector_requests_total", code="400") == 1
        metrics = collector.get("/metrics")[1].decode()
        assert_no_secrets(metrics, "the collector's /metrics", collector.env)
    finally:
        collector.stop()
    log = collector.log_path.read_text(errors="replace")
    assert_no_secrets(log, "the collector's log", collector.env)


@pytest.fixture
def proxied_broker(tmp_path: Path) -> Iterator[ProxiedBroker]:
    broker = start_proxied_broker(tmp_path / "tansu")
    yield broker
    broker.stop()


def test_broker_outage_gives_503_and_retries_count_once(
    proxied_broker: ProxiedBroker, tmp_path: Path
) -> None:
    """Lost acks and a dead broker: the client retries, the topic may hold a batch twice,
    and the worker still counts every event exactly once."""
    deployment = make_deployment(proxied_broker.handle, tmp_path / "d")
    collector = collector_for(
        deployment, TRACKER_COLLECTOR_PRODUCE_TIMEOUT="2", TRACKER_COLLECTOR_RETRY_AFTER="1"
    ).start()
    proxy = proxied_broker.proxy
    try:
        first = [web_event("page_view", "ana"), web_event("interaction", "ana")]
        lost_ack = [web_event("page_view", "ben"), web_event("order", "ben")]
        while_down = [web_event("page_view", "cleo")]
        assert collector.post(first)[0] == 202

        proxy.mute()  # the broker stores the write, but its acknowledgement never arrives
        status, body, headers = collector.post(lost_ack)
        assert (status, body["error"], headers["Retry-After"]) == (503, "unavailable", "1")

        proxy.down()
        wait_until(lambda: collector.get("/readyz")[0] == 503, 20, "/readyz to report the outage")
        status, _, headers = collector.post(while_down)
        assert status == 503 and headers["Retry-After"] == "1"

        proxy.up()
        wait_until(collector.ready, 30, "/readyz to recover")
        for batch in (lost_ack, while_down):  # the client's retries, same event ids
            wait_until(lambda b=batch: collector.post(b)[0] == 202, 30, "a retry to succeed")

        unique = {e["event_id"] for e in first + lost_ack + while_down}
        accepted = collector.metric("tracker_collector_events_total", outcome="accepted")
        assert accepted == len(unique), "a 202 for every event exactly once"
        assert collector.metric("tracker_collector_events_total", outcome="unavailable") == 3

        worker = deployment.worker().start()
        wait_until(
            lambda: total(worker.samples(), "tracker_events_total") >= len(unique),
            60,
            "the worker to count the collected events",
        )
        stored = [
            e["event_id"]
            for r in read_topic(deployment.broker.bootstrap, deployment.env["TRACKER_TOPIC"])
            for e in orjson.loads(r.value)
        ]
        assert set(stored) == unique
        time.sleep(3)  # anything still in flight would be counted by now
        samples = worker.samples()
        assert total(samples, "tracker_events_total") == len(unique)
        assert total(samples, "tracker_orders_total") == 1
        duplicates = total(samples, "tracker_events_dropped_total", reason="duplicate")
        assert duplicates == len(stored) - len(unique)
        print(f"topic holds {len(stored)} events for {len(unique)} unique: {duplicates} deduped")
    finally:
        collector.stop()
        deployment.stop()
