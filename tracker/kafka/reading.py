"""Reading assigned partitions from their beginning to their end, exactly once each record.

"The end" is asked twice: the end offsets when the read begins, and the high
watermark each fetch reports. The embedded broker's end offset can lag the last
record of a batch written together (two tombstones, say), and a consumer's position
can run ahead of the records a poll has handed out; stopping by either alone loses
the newest records, which for a compacted topic are the ones that matter.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from tracker.errors import BrokerError

POLL_MS = 1000
READ_TIMEOUT_S = 120


def read_to_end(consumer: Any, tps: Iterable[Any], handle: Callable[[Any], None]) -> None:
    """Feed ``handle`` every record of ``tps`` (assigned to ``consumer``) from the beginning."""
    tps = list(tps)
    if not tps:
        return
    consumer.seek_to_beginning(*tps)
    ends = consumer.end_offsets(tps)
    starts = consumer.beginning_offsets(tps)
    seen = {tp: starts[tp] - 1 for tp in tps}

    def end(tp: Any) -> int:
        return max(int(ends[tp]), int(consumer.highwater(tp) or 0))

    deadline = time.monotonic() + READ_TIMEOUT_S
    while any(seen[tp] < end(tp) - 1 for tp in tps):
        if time.monotonic() > deadline:
            raise BrokerError(f"reading {tps[0].topic} did not reach its end in {READ_TIMEOUT_S} s")
        batch = consumer.poll(timeout_ms=POLL_MS)
        for tp, records in batch.items():
            for record in records:
                handle(record)
                seen[tp] = max(seen[tp], record.offset)
        if not batch and all(consumer.position(tp) >= end(tp) for tp in tps):
            return  # the last offsets hold no record to hand out (transaction markers)
