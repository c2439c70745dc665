"""``tracker_dlq_records{reason}``: the dead letters a worker wrote within the DLQ's retention.

How the worker knows without reading the DLQ: every letter a partition writes adds one
to a ``dlq:<reason>`` bucket of its aggregates, at the wall-clock minute it was written
(the clock the DLQ's ``retention.ms`` deletes by). The buckets are part of the
partition's state, so the count survives restarts and moves with the partition; the
gauge sums the hours of the last ``TRACKER_DLQ_RETENTION_HOURS`` over the partitions
this worker actively owns. Letters that ``tracker dlq purge``, ``redrive`` or an
erasure tombstoned are not subtracted: ``tracker dlq inspect`` reads what the DLQ
holds now. Summed over workers, it is what the DLQ received and still keeps by age.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from tracker.core.partition import LETTER_BUCKET, PartitionProcessor
from tracker.metrics.catalogue import INTERNAL_REASONS, REJECT_REASONS
from tracker.metrics.families import gauge

HOUR_MS = 3_600_000


def letters_within(
    processors: Iterable[PartitionProcessor], reason: str, now_ms: int, retention_hours: float
) -> int:
    """Letters of ``reason`` written in the hours that ``retention_hours`` reaches back over."""
    last = now_ms // HOUR_MS
    first = last - max(int(retention_hours), 1) + 1
    total = 0
    for processor in processors:
        hist = processor.aggregates.hists.get(LETTER_BUCKET + reason)
        if hist is not None:
            total += hist.hours.sum_between(first, last + 1)
    return total


class DeadLetterGauge(Collector):
    def __init__(
        self,
        partitions: Callable[[], Mapping[int, PartitionProcessor]],
        now_ms: Callable[[], int],
        retention_hours: float,
    ) -> None:
        self.partitions = partitions
        self.now_ms = now_ms
        self.retention_hours = retention_hours

    def collect(self) -> Iterable[Metric]:
        family = gauge("tracker_dlq_records")
        processors = list(self.partitions().values())
        now = self.now_ms()
        for reason in (*REJECT_REASONS, *INTERNAL_REASONS):
            count = letters_within(processors, reason, now, self.retention_hours)
            family.add_metric([reason], count)
        yield family
