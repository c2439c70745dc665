"""Session-wide Apache Kafka (KRaft) clusters for the reliability scenarios.

Import the fixtures into a test module (``from tests.integration.kafka_fixtures
import kafka_one, kafka_three``). Each cluster starts the first time a test asks
for it and stops at the end of the session; the three-node one (replication
factor 3, ``min.insync.replicas=2``) only when a test needs it. Missing jars or
Java raise ``KafkaClusterError`` naming ``scripts/fetch-kafka.sh``: the tests
fail loudly, they never skip.

Brokers get SIGKILL when the *thread* that started them ends, so the clusters
are started here, from pytest's main thread, never from a helper thread.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tracker.testing.kafka_cluster import KafkaCluster

# The generated streams carry historical record timestamps (May 2026). Kafka's
# time-based retention (7 days by default) judges segments by record timestamp, so
# the periodic retention check would delete rolled input segments mid-test. Test
# topics keep everything; the same pitfall for replays is noted in RELIABILITY.md.
TEST_BROKER_CONFIG = {"log.retention.ms": "-1"}


def _cluster(factory: pytest.TempPathFactory, name: str, brokers: int) -> Iterator[KafkaCluster]:
    cluster = KafkaCluster(factory.mktemp(name), brokers=brokers, extra_config=TEST_BROKER_CONFIG)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def kafka_one(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    """One combined broker/controller node (replication factor 1)."""
    yield from _cluster(tmp_path_factory, "kafka-1", brokers=1)


@pytest.fixture(scope="session")
def kafka_three(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    """Three combined nodes: replication factor 3, min.insync.replicas=2."""
    yield from _cluster(tmp_path_factory, "kafka-3", brokers=3)
