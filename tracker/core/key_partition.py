"""Which input partition a customer id lands on, for the pure core.

Identity stitching sends records to the partition of the *other* id of a
link, so the core must compute Kafka's default partitioner itself: the
layout keeps the kafka package out of ``tracker.core``. This is the murmur2
of Kafka's Java client (``org.apache.kafka.common.utils.Utils.murmur2``);
``tests/unit/test_key_partition.py`` checks it against kafka-python's, which
``tracker.kafka.partitioner`` uses for the collector, the tools and the
reference pipeline.
"""

from __future__ import annotations

_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    length = len(data)
    h = (0x9747B28C ^ length) & _MASK
    for i in range(0, length - length % 4, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    tail = length % 4
    base = length - tail
    if tail >= 3:
        h ^= data[base + 2] << 16
    if tail >= 2:
        h ^= data[base + 1] << 8
    if tail >= 1:
        h ^= data[base]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h


def partition_of(customer_id: str, partitions: int) -> int:
    """The input partition of messages keyed by ``customer_id`` (UTF-8)."""
    return (murmur2(customer_id.encode()) & 0x7FFFFFFF) % partitions
