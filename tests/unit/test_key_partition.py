"""The core's partitioner is Kafka's: identity records find the other id's partition."""

from __future__ import annotations

import random

from kafka.partitioner.default import murmur2 as kafka_murmur2

from tracker.core.key_partition import murmur2, partition_of
from tracker.kafka.partitioner import partition_for


def test_murmur2_equals_kafka_pythons_for_any_bytes() -> None:
    rng = random.Random(15)
    for _ in range(5_000):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 48)))
        assert murmur2(data) == kafka_murmur2(data), data


def test_partition_of_a_customer_id_is_where_its_messages_land() -> None:
    rng = random.Random(16)
    ids = [
        "anna",
        "dev-anna",
        "ä-ö-ü",
        "\u202eevil",
        *(f"cust-{rng.getrandbits(48):012x}" for _ in range(2000)),
    ]
    for partitions in (1, 2, 4, 6, 8, 12, 100):
        for customer in ids:
            # kafka-python's own hash: partition_for uses the core's since it is compiled
            kafka = (kafka_murmur2(customer.encode()) & 0x7FFFFFFF) % partitions
            assert partition_of(customer, partitions) == kafka
            assert partition_for(customer.encode(), partitions) == kafka
