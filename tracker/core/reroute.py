"""Counting a message that arrived on another partition than its key's.

Producers differ in how they map a key to a partition: kafka-python, aiokafka and
the Java client use murmur2, librdkafka clients (confluent-kafka, most Go, Node and
.NET clients) default to CRC32. The tracker keeps a customer's state on the murmur2
partition of its id, so the wiring re-sends such a message there
(``tracker.stream.reroute``) and the arrival partition counts it here, once: a
redelivery after a crash sends it again (its events are then duplicates the target
drops by event id) but finds the offset applied and does not count it again.
See docs/operations.md#re-routing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tracker.core.aggregates import COUNTER_ROW, Delta, counter_key

if TYPE_CHECKING:
    from tracker.core.partition import PartitionProcessor


def count_rerouted(processor: PartitionProcessor, offset: int, now_ms: int) -> bool:
    """Count the message at ``offset`` as re-routed; False when it was counted before."""
    processor.last_input_wall_ms = now_ms
    if offset <= processor.applied_offset:
        return False
    processor.applied_offset = processor.aggregates.applied_offset = offset
    processor.aggregates.dirty.add(COUNTER_ROW)
    delta = Delta()
    delta.count(counter_key("tracker_events_rerouted_total"))
    processor._save_ingest(delta)  # one row carries the message, as process() does
    return True
