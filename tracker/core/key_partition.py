"""Which input partition a customer id lands on, for the pure core.

Identity stitching sends records to the partition of the *other* id of a
link, so the core must compute Kafka's default partitioner itself: the
layout keeps the kafka package out of ``tracker.core``. This is the murmur2
of Kafka's Java client (``org.apache.kafka.common.utils.Utils.murmur2``);
``tests/unit/test_key_partition.py`` checks it against kafka-python's. Compiled, it is
also ``tracker.kafka.partitioner``'s, for the worker, the collector, the tools and the
reference pipeline.
"""

from __future__ import annotations

from typing import Final

# Final: mypyc folds the constants into the arithmetic (a module global is a dict lookup).
_M: Final = 0x5BD1E995
_MASK: Final = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    length = len(data)
    h = (0x9747B28C ^ length) & _MASK
    base = length - length % 4
    # Bytes indexed one by one, not sliced into int.from_bytes: no object per 4-byte block.
    for i in range(0, base, 4):
        k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    tail = length - base
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
