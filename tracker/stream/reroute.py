"""Re-routing a message to its key's partition, through Kafka (docs/operations.md#re-routing).

The copy goes to the input topic with the partition given explicitly, the same key,
value, headers and record timestamp, plus ``tracker-rerouted: PARTITION:OFFSET``
naming where it came from. It is tracked like every write of the worker, so the
original's offset is committed only after the copy was acknowledged
(``pending.PendingWrites``): a crash before that re-delivers the original, which is
sent again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tracker.kafka.partitioner import partition_for

REROUTED_HEADER = "tracker-rerouted"


def misplaced(key: bytes | None, partition: int, partitions: int) -> int | None:
    """The partition ``key`` belongs on when it is not ``partition``; None otherwise.

    A message without a key stays: it is rejected where it is (key_mismatch).
    """
    if not key or partitions <= 1:
        return None
    target = partition_for(key, partitions)
    return None if target == partition else target


def rerouted_headers(
    headers: Mapping[str, bytes] | Iterable[tuple[str, bytes]] | None, partition: int, offset: int
) -> list[tuple[str, bytes]]:
    pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers or ())
    kept = [(name, value) for name, value in pairs if name != REROUTED_HEADER]
    return [*kept, (REROUTED_HEADER, f"{partition}:{offset}".encode())]


async def reroute(source: Any, message: Any, target: int) -> Any:
    """Send the copy; returns the send's future, for the worker's pending writes."""
    return await source.send(
        key=message.key,
        value=message.value,
        partition=target,
        timestamp=message.timestamp,
        headers=rerouted_headers(message.headers, message.partition, message.offset),
    )
