"""A customer's events as Kafka messages within the worker's limits.

The contract allows a message to carry a JSON array of one customer's events
(docs/contract.md#messages-and-keys); the worker rejects a message over
TRACKER_MAX_MESSAGE_EVENTS events or TRACKER_MAX_MESSAGE_BYTES bytes whole, so
every sender that batches (the Segment API, the backend producer) splits here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator


def pack(encoded: Iterable[bytes], max_events: int, max_bytes: int) -> Iterator[tuple[bytes, int]]:
    """JSON arrays of the encoded events, in order: (message value, events in it)."""
    chunk: list[bytes] = []
    size = 2  # the brackets
    for event in encoded:
        if chunk and (len(chunk) >= max_events or size + len(event) + 1 > max_bytes):
            yield b"[" + b",".join(chunk) + b"]", len(chunk)
            chunk, size = [], 2
        chunk.append(event)
        size += len(event) + 1
    if chunk:
        yield b"[" + b",".join(chunk) + b"]", len(chunk)
