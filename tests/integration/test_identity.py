"""Identity stitching on the real broker, one worker (docs/identity.md).

Ids and their partitions (4): anna 3, dev-anna 2, carl 2, laptop-carl 1, so every
link crosses partitions through the identity topic. Expected figures are worked
out by hand in the comments.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kafka.consumer import KafkaConsumer

from tracker.kafka.partitioner import partition_for
from tracker.kafka.topics import identity_topic
from tracker.metrics.samples import Sample, total
from tracker.testing.deployment import Deployment, WorkerProcess, wait_until
from tracker.testing.streams import produce
from tracker.testing.traffic import Message

# Two hours ago: a restarted worker's idle rule closes the sessions (the gap has passed).
START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


def _event(customer: str, n: int, seconds: float, kind: str, **extra: Any) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "event_id": f"{customer}-{n}",
        "event_type": kind,
        "customer_id": customer,
        "occurred_at": (START + timedelta(seconds=seconds)).isoformat(),
        "channel": "web",
        "touchpoint": "home",
        "consent": {"analytics": True, "marketing": False},
        **extra,
    }


def _messages(*events: dict[str, Any]) -> list[Message]:
    out = []
    for event in events:
        at = datetime.fromisoformat(event["occurred_at"])
        out.append(
            Message(
                event["customer_id"].encode(),
                json.dumps(event).encode(),
                int(at.timestamp() * 1000),
                1,
            )
        )
    return out


STORY = [  # anonymous product, cart; log in; checkout, order: one converted session
    _event("dev-anna", 1, 0, "page_view", touchpoint="product"),
    _event("dev-anna", 2, 30, "interaction", touchpoint="cart", action="add_to_cart"),
    _event("anna", 3, 60, "identify", anonymous_id="dev-anna", touchpoint="account"),
    _event("anna", 4, 61, "page_view", touchpoint="checkout"),
    _event(
        "anna",
        5,
        90,
        "order",
        touchpoint="checkout",
        order_id="o-1",
        revenue="59.90",
        currency="EUR",
    ),
]
TWO_DEVICES = [  # the phone app logged in, the laptop anonymous, then the laptop logs in
    _event("carl", 1, 0, "page_view", channel="app", touchpoint="app"),
    _event("laptop-carl", 2, 20, "page_view", touchpoint="product"),
    _event("carl", 3, 40, "identify", anonymous_id="laptop-carl"),
]
LATE_TAB = [_event("dev-anna", 6, 120, "page_view", touchpoint="product")]  # another tab


def _others(seconds: float) -> list[dict[str, Any]]:
    """The shop's other traffic on the devices' partitions (other-1: 1, other-9: 2): a claim
    waits until its device's partition reaches the identify's time. Withdrawals of unknown
    customers move a partition's watermark and count in no figure below."""
    consent = {"analytics": False, "marketing": False}
    return [_event(name, 0, seconds, "consent", consent=consent) for name in ("other-1", "other-9")]


def test_the_ids_cross_partitions() -> None:
    names = ("anna", "dev-anna", "carl", "laptop-carl", "other-1", "other-9")
    assert {n: partition_for(n.encode(), 4) for n in names} == {
        "anna": 3,
        "dev-anna": 2,
        "carl": 2,
        "laptop-carl": 1,
        "other-1": 1,
        "other-9": 2,
    }


def _figures(samples: list[Sample]) -> dict[str, float]:
    names = (
        "tracker_sessions_started_total",
        "tracker_sessions_closed_total",
        "tracker_sessions_converted_total",
        "tracker_sessions_merged_total",
        "tracker_sessions_discarded_total",
        "tracker_sessions_active",
        "tracker_identity_links_total",
        "tracker_events_forwarded_total",
        "tracker_identity_conflicts_total",
    )
    figures = {name: total(samples, name) for name in names}
    figures["identify"] = total(samples, "tracker_events_total", event_type="identify")
    figures["events"] = total(samples, "tracker_events_total")
    for step in ("product", "cart", "checkout", "order"):
        figures[f"funnel_{step}"] = total(samples, "tracker_funnel_sessions_total", step=step)
    figures["merged_web"] = total(samples, "tracker_sessions_merged_total", channel="web")
    return figures


# long: one worker lives through the story, the second device and the late tab, in order.
def test_login_mid_journey_a_second_device_and_a_late_tab_on_the_real_broker(
    deployment_factory: Callable[..., Deployment],
) -> None:
    deployment = deployment_factory(TRACKER_IDLE_TIMEOUT="100000")
    worker = deployment.worker().start()
    bootstrap, topic = deployment.broker.bootstrap, deployment.env["TRACKER_TOPIC"]
    produce(bootstrap, topic, _messages(*STORY, *TWO_DEVICES, *_others(100)))
    wait_until(lambda: _figures(worker.samples())["identify"] == 2, 60, "both identifies")
    wait_until(
        lambda: _figures(worker.samples())["tracker_identity_links_total"] == 2, 60, "two links"
    )
    produce(bootstrap, topic, _messages(*LATE_TAB))
    expected_open = {
        # dev-anna's session moved to anna (no merge); carl's app and the laptop merged
        # (the laptop started later: merged under web). Open: anna's, carl's.
        "tracker_sessions_started_total": 3,
        "tracker_sessions_active": 2,
        "tracker_sessions_merged_total": 1,
        "merged_web": 1,
        "tracker_sessions_closed_total": 0,
        "tracker_identity_links_total": 2,
        "tracker_events_forwarded_total": 1,  # the late tab, counted for anna
        "identify": 2,
        "events": 9,  # 5 + 3 + the late tab
    }
    wait_until(
        lambda: {k: _figures(worker.samples())[k] for k in expected_open} == expected_open,
        60,
        f"open figures {expected_open}",
    )
    reach = total(worker.samples(), "tracker_reach", window="24h", channel="all")
    assert reach == 2, "two persons: anna (with her device) and carl (with his laptop)"
    # The hand-overs are applied, no event waits for one, and housekeeping dropped the
    # records Kafka acknowledged: every gauge of it reads 0 on each of the 4 partitions,
    # the identity topic's lag read against the broker's end offsets.
    settled = {name: {str(p): 0.0 for p in range(4)} for name in IDENTITY_GAUGES}
    wait_until(lambda: _identity_gauges(worker.samples()) == settled, 30, "hand-overs settled")
    worker.stop()
    closing = deployment.worker(TRACKER_IDLE_TIMEOUT="2")  # restarted: the quiet closes all
    closing.start()
    wait_until(
        lambda: _figures(closing.samples())["tracker_sessions_closed_total"] == 2, 60, "closed"
    )
    closed = _figures(closing.samples())
    assert closed["tracker_sessions_converted_total"] == 1
    # anna's session passed every step; carl's merged one the laptop's product page.
    assert [closed[f"funnel_{s}"] for s in ("product", "cart", "checkout", "order")] == [2, 1, 1, 1]
    assert closed["tracker_sessions_started_total"] == 3
    assert closed["tracker_sessions_merged_total"] == 1
    assert closed["tracker_sessions_active"] == 0


IDENTITY_GAUGES = (
    "tracker_identity_lag",
    "tracker_identity_held_events",
    "tracker_identity_records_unacknowledged",
)


def _identity_gauges(samples: list[Sample]) -> dict[str, dict[str, float]]:
    return {
        name: {dict(labels)["partition"]: value for n, labels, value in samples if n == name}
        for name in IDENTITY_GAUGES
    }


def _internal_bytes(bootstrap: str, topic: str) -> bytes:
    consumer = KafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=4000
    )
    blob = b"\n".join((m.key or b"") + (m.value or b"") for m in consumer)
    consumer.close()
    return blob


def _inspect(deployment: Deployment, customer: str) -> dict[str, Any]:
    answer: dict[str, Any] = json.loads(deployment.tracker("inspect", customer).stdout)
    return answer


def _restarted(deployment: Deployment, worker: WorkerProcess) -> WorkerProcess:
    worker.stop()
    worker.start()
    return worker


def test_erasing_the_customer_erases_its_device_proven_by_a_restarted_worker(
    deployment_factory: Callable[..., Deployment], tmp_path: Path
) -> None:
    deployment = deployment_factory(TRACKER_IDLE_TIMEOUT="100000")
    worker = deployment.worker().start()
    bootstrap, topic = deployment.broker.bootstrap, deployment.env["TRACKER_TOPIC"]
    produce(bootstrap, topic, _messages(*STORY, *_others(100)))
    wait_until(lambda: total(worker.samples(), "tracker_orders_total") == 1, 60, "the order")
    wait_until(lambda: total(worker.samples(), "tracker_identity_links_total") == 1, 60, "the link")
    access = _inspect(deployment, "anna")
    [device] = access["linked_anonymous_ids"]
    assert device["status"] == "linked" and "linked_to" in device
    assert access["open_session"]["page_views"] == 2  # the device's product page and checkout

    deployment.tracker("erase", "anna")
    wait_until(
        lambda: total(worker.samples(), "tracker_erasures_total", reason="request") == 1,
        30,
        "the erasure",
    )
    produce(bootstrap, topic, _messages(_event("dev-anna", 9, 200, "page_view")))
    wait_until(
        lambda: total(worker.samples(), "tracker_events_dropped_total", reason="no_consent") == 1,
        30,
        "the device's next event dropped: the marker covers it",
    )
    assert total(worker.samples(), "tracker_sessions_discarded_total", channel="web") == 1
    assert total(worker.samples(), "tracker_reach", window="24h", channel="all") == 0
    import time

    time.sleep(3)  # housekeeping drops the acknowledged records the rows kept
    worker = _restarted(deployment, worker)
    for customer in ("anna", "dev-anna"):
        restored = _inspect(deployment, customer)
        assert "withdrawal_marker_until" in restored, restored
        assert "open_session" not in restored and "linked_anonymous_ids" not in restored
    assert total(worker.samples(), "tracker_reach", window="24h", channel="all") == 0
    blob = _internal_bytes(bootstrap, identity_topic(deployment.env["TRACKER_WORKER_ID"]))
    assert blob, "identity records went through the topic"
    for raw in (b"anna", b"dev-anna", b"checkout", b"59.90"):
        assert raw not in blob, raw
