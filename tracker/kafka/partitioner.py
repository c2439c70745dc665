"""Which partition a customer's messages land on: Kafka's default partitioner.

The contract keys every message by customer id; kafka-python, aiokafka and the Java
client map keys with murmur2, so this is where the collector, the tools and the
reference pipeline agree on a customer's partition.
"""

from __future__ import annotations

from kafka.partitioner.default import murmur2


def partition_for(key: bytes | None, partitions: int) -> int:
    """Kafka's default (murmur2) partitioner, as kafka-python, aiokafka and Java use it."""
    if key is None:
        return 0
    return (int(murmur2(key)) & 0x7FFFFFFF) % partitions
