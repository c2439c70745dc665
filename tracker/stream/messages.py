"""What the wiring reads off an input message besides its key and value.

Its ``tracker-control`` header, and whether Faust delivered it again after a restart
or rebalance (at-least-once): such messages are skipped by offset, and counted for
the log.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from tracker.kafka.topics import CONTROL_HEADER

if TYPE_CHECKING:
    from tracker.stream.pipeline import WorkerState

log = logging.getLogger("tracker.stream.worker")


def note_redelivery(worker: WorkerState, partition: int, offset: int, applied: int) -> None:
    last = worker.last_offsets.get(partition)
    if last is not None and offset != last + 1:
        log.info("partition %d: offset %d follows offset %d", partition, offset, last)
    worker.last_offsets[partition] = offset
    if offset <= applied:
        worker.redelivered[partition] = worker.redelivered.get(partition, 0) + 1
    elif partition in worker.redelivered:
        log.info(
            "partition %d: skipped %d re-delivered messages already applied (up to offset %d)",
            partition,
            worker.redelivered.pop(partition),
            applied,
        )


def control_of(headers: Mapping[str, bytes] | Iterable[tuple[str, bytes]] | None) -> str | None:
    """The command a record carries in its ``tracker-control`` header, if any."""
    if not headers:
        return None
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    for name, value in pairs:
        if name == CONTROL_HEADER:
            return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
    return None
