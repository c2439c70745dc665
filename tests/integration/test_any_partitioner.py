"""Any partitioner (docs/operations.md#re-routing): the same customers' events through the
collector (murmur2) and through confluent-kafka with its default partitioner
(consistent_random: CRC32) into a four-partition topic, read by two workers.

Expected totals are worked out by hand: every customer has one session, whichever
client sent which of its events; the re-routed count is what confluent-kafka's
delivery reports say landed off the murmur2 partition.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import orjson
from confluent_kafka import Producer

from tests.integration.collector_process import CollectorProcess, web_event
from tests.integration.conftest import settled
from tracker.core.pipeline_config import PipelineConfig
from tracker.core.pseudonym import Pseudonymizer
from tracker.kafka.partitioner import partition_for
from tracker.metrics.samples import Sample, total
from tracker.settings import Settings
from tracker.testing.deployment import PSEUDONYM_KEY, Deployment, WorkerProcess, wait_until
from tracker.testing.reference import ReferencePipeline

PARTITIONS = 4
CUSTOMERS = [f"c-{n:02d}" for n in range(20)]


def _only_via_confluent() -> str:
    """A customer whose CRC32 partition is not its murmur2 one: its state must move."""
    import zlib

    return next(
        name
        for name in (f"kafka-only-{n}" for n in range(100))
        if zlib.crc32(name.encode()) % PARTITIONS != partition_for(name.encode(), PARTITIONS)
    )


def _produce_with_confluent(bootstrap: str, topic: str, batches: dict[str, list[Any]]) -> int:
    """Each customer's events as one message, default partitioner; returns how many
    landed off their murmur2 partition."""
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    landed: dict[str, int] = {}

    def report(error: Any, message: Any) -> None:
        assert error is None, error
        landed[message.key().decode()] = message.partition()

    for customer, events in batches.items():
        producer.produce(topic, orjson.dumps(events), key=customer.encode(), on_delivery=report)
    assert producer.flush(30) == 0
    assert len(landed) == len(batches)
    return sum(p != partition_for(c.encode(), PARTITIONS) for c, p in landed.items())


def _reference(messages: list[tuple[str, list[Any]]]) -> list[Sample]:
    """The pure pipeline fed every message on its key's murmur2 partition."""
    config = PipelineConfig.from_settings(
        Settings(partitions=PARTITIONS), Pseudonymizer(PSEUDONYM_KEY.encode())
    )
    pipe = ReferencePipeline(config, PARTITIONS)
    now = int(time.time() * 1000)
    for customer, events in messages:
        pipe.feed(customer.encode(), orjson.dumps(events), now, now)
    return pipe.samples()


def _sum(workers: list[WorkerProcess], name: str, **labels: str) -> float:
    return sum(total(w.samples(), name, **labels) for w in workers)


def test_collector_and_confluent_kafka_count_as_one_customer_each(
    deployment_factory: Callable[..., Deployment],
) -> None:
    deployment = deployment_factory(TRACKER_PARTITIONS=str(PARTITIONS))
    collector = CollectorProcess(deployment.env, deployment.root / "collector.log").start()
    workers = [deployment.worker().start(), deployment.worker().start()]
    wait_until(lambda: settled(workers, PARTITIONS), 90, "two workers to share the partitions")
    alone = _only_via_confluent()
    try:
        sent: list[tuple[str, list[Any]]] = []
        for customer in CUSTOMERS:
            pages = [web_event("page_view", customer, touchpoint=t) for t in ("product", "cart")]
            assert collector.post(pages)[0] == 202
            sent.append((customer, pages))
        time.sleep(1)  # the orders come a moment after the pages, as in a shop
        orders = {c: [web_event("order", c, touchpoint="checkout")] for c in CUSTOMERS}
        orders[alone] = [web_event("page_view", alone), web_event("order", alone)]
        topic = deployment.env["TRACKER_TOPIC"]
        rerouted = _produce_with_confluent(deployment.broker.bootstrap, topic, orders)
        assert rerouted >= 1
        sent += list(orders.items())

        # By hand: 20 customers x (2 pages + 1 order), the lone one 1 page + 1 order.
        events, customers = 20 * 3 + 2, 21
        wait_until(
            lambda: _sum(workers, "tracker_events_total") >= events, 90, "every event counted"
        )
        time.sleep(2)  # a duplicate or a second session would show by now
        assert _sum(workers, "tracker_events_total") == events
        assert _sum(workers, "tracker_orders_total") == customers
        assert _sum(workers, "tracker_sessions_started_total") == customers, "one session each"
        assert _sum(workers, "tracker_sessions_active") == customers
        assert _sum(workers, "tracker_events_rerouted_total") == rerouted
        assert _sum(workers, "tracker_events_received_total") == events
        reach = _sum(workers, "tracker_reach", window="24h", channel="all")
        assert reach == customers, "each customer reached once, not once per partition"
        reference = _reference(sent)
        for name in (
            "tracker_events_total",
            "tracker_sessions_started_total",
            "tracker_orders_total",
        ):
            assert _sum(workers, name) == total(reference, name), name

        held = json.loads(deployment.tracker("inspect", alone).stdout)
        assert held["held"] is True and held["open_session"]["orders"] == 1
        deployment.tracker("erase", alone)
        wait_until(
            lambda: _sum(workers, "tracker_erasures_total", reason="request") == 1,
            30,
            "the erasure of a customer whose events all came through confluent-kafka",
        )
        after = json.loads(deployment.tracker("inspect", alone).stdout)
        assert "open_session" not in after and "last_seen" not in after, after
        assert _sum(workers, "tracker_sessions_active") == customers - 1
        assert _sum(workers, "tracker_reach", window="24h", channel="all") == customers - 1
    finally:
        collector.stop()
