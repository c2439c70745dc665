"""The real Apache Kafka (KRaft) test cluster itself: produce, consume, survive a dead broker.

Needs the jars from scripts/fetch-kafka.sh and Java 17+; without them these tests
fail with that instruction (they never skip).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from tracker.testing.kafka_cluster import KafkaCluster, KafkaClusterError

pytestmark = [pytest.mark.integration, pytest.mark.kafka]


def _produce(producer: Any, topic: str, values: Iterable[int]) -> None:
    futures = [
        producer.send(topic, key=f"customer-{v % 17}".encode(), value=str(v).encode())
        for v in values
    ]
    for future in futures:
        future.get(timeout=60)  # raises if the broker did not acknowledge


def _consume_all(
    cluster: KafkaCluster, topic: str, expected: int, timeout: float = 30.0
) -> list[int]:
    consumer = cluster.consumer(
        topic,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    values: list[int] = []
    deadline = time.monotonic() + timeout
    try:
        while len(values) < expected and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                values.extend(int(record.value) for record in records)
    finally:
        consumer.close()
    return values


def _isr(cluster: KafkaCluster, topic: str) -> dict[int, list[int]]:
    return {i: sorted(p.isr) for i, p in cluster.describe_topic(topic).items()}


def _wait_for_isr(cluster: KafkaCluster, topic: str, members: list[int]) -> None:
    expected = dict.fromkeys(cluster.describe_topic(topic), members)
    deadline = time.monotonic() + 30
    while _isr(cluster, topic) != expected:
        assert time.monotonic() < deadline, f"ISR is {_isr(cluster, topic)}, not {members}"
        time.sleep(0.25)


def test_missing_jars_fail_loudly_with_the_fix(tmp_path: Path) -> None:
    cluster = KafkaCluster(tmp_path / "kafka", lib_dir=tmp_path / "no-jars")
    with pytest.raises(KafkaClusterError, match=r"scripts/fetch-kafka\.sh"):
        cluster.start()


@pytest.mark.timeout(90)
def test_single_broker_produce_and_consume(tmp_path: Path) -> None:
    with KafkaCluster(tmp_path / "kafka", brokers=1) as cluster:
        assert cluster.url == "kafka://" + cluster.bootstrap
        cluster.create_topic("events", partitions=3)
        cluster.create_topic("state", partitions=1, compacted=True)

        producer = cluster.producer(acks="all")
        try:
            _produce(producer, "events", range(300))
        finally:
            producer.close()

        assert sorted(_consume_all(cluster, "events", 300)) == list(range(300))
        with cluster.admin() as admin:
            assert {"events", "state"} <= set(admin.list_topics())


@pytest.mark.timeout(150)
def test_three_brokers_lose_nothing_when_one_dies(tmp_path: Path) -> None:
    topic = "replicated"
    with KafkaCluster(tmp_path / "kafka", brokers=3) as cluster:
        cluster.create_topic(topic, partitions=3, replication_factor=3)
        assert _isr(cluster, topic) == {p: [0, 1, 2] for p in range(3)}

        producer = cluster.producer(
            acks="all",
            enable_idempotence=True,
            request_timeout_ms=5000,
            retry_backoff_ms=200,
        )
        try:
            _produce(producer, topic, range(0, 200))

            victim = cluster.describe_topic(topic)[0].leader
            cluster.kill_broker(victim)
            assert not cluster.is_running(victim)
            # acks=all with min.insync.replicas=2: still writable on the 2 survivors.
            _produce(producer, topic, range(200, 400))
            _wait_for_isr(cluster, topic, sorted({0, 1, 2} - {victim}))

            cluster.start_broker(victim)
            _produce(producer, topic, range(400, 600))
        finally:
            producer.close()

        # The restarted node catches up and is back in every partition's ISR.
        _wait_for_isr(cluster, topic, [0, 1, 2])

        values = _consume_all(cluster, topic, 600)
        assert sorted(set(values)) == list(range(600)), "messages lost"
        assert len(values) == 600, "messages duplicated despite idempotence"
