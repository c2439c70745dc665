"""Which partition a customer's messages land on: Kafka's default partitioner.

The contract keys every message by customer id; kafka-python, aiokafka and the Java
client map keys with murmur2, so this is where the collector, the tools and the
reference pipeline agree on a customer's partition. The hash is the compiled core's
(``tracker.core.key_partition``, checked against kafka-python's in
``tests/unit/test_key_partition.py``): the worker hashes every message's key to see that
it is on its partition, and kafka-python's pure-Python murmur2 was ~3 µs of that.
"""

from __future__ import annotations

from tracker.core.key_partition import murmur2


def partition_for(key: bytes | None, partitions: int) -> int:
    """Kafka's default (murmur2) partitioner, as kafka-python, aiokafka and Java use it."""
    if key is None:
        return 0
    return (murmur2(key) & 0x7FFFFFFF) % partitions
