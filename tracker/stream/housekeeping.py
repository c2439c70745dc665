"""The flush timer of a worker: the idle rule, due sessions, expiry, then the epoch's end.

A partition whose tick or flush raises is paused; the others go on. What a tick sends
besides its rows (a claim answered as sessions close: the linked device's account
activity) goes ahead of them, as a message's does (``stream.side_records``). Every
partition is ticked before anything is awaited, so no revocation falls between a
partition's turn and its writes; what could not be appended is sent after that, and a
send that fails is logged, not raised: the timer must not stop (mode would crash the
worker), and the records are lost as they would be in a message's failed send.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING

from tracker.core.faults import PartitionFault
from tracker.core.ingest import DeadLetter
from tracker.core.partition import PartitionProcessor
from tracker.stream.side_records import SideRecords, apply_held

if TYPE_CHECKING:
    from tracker.stream.pipeline import Pipeline

log = logging.getLogger("tracker.stream.worker")


async def housekeeping(pipeline: Pipeline, moment: int) -> None:
    """``moment``: the wall clock, epoch milliseconds."""
    worker = pipeline.worker
    unsent: list[SideRecords] = []
    for partition, processor in list(worker.processors.items()):
        if partition in worker.failed:
            continue
        tick = partial(_tick, pipeline, partition, processor, moment)
        try:
            unsent.append(apply_held(processor, tick, worker.changelog, pipeline.sides))
            pipeline.sender.submit(processor, getattr(processor.store, "last_write", None))
        except Exception as exc:  # appending its records failed: its rows are released
            pipeline.fault(partition, PartitionFault("housekeeping", processor.applied_offset), exc)
    for side in unsent:
        try:
            await pipeline.send_rest(side)
        except Exception:
            log.exception("housekeeping: a record sent besides the rows was refused")
    for account in list(worker.accounts.values()):
        account.tick(moment)
        account.flush()


def _tick(
    pipeline: Pipeline, partition: int, processor: PartitionProcessor, moment: int
) -> list[DeadLetter]:
    """Tick and flush; a failure pauses the partition, and what the tick made is still
    taken (its rows may be written: ``PartitionFault`` "applying a written row")."""
    try:
        processor.tick(moment)
        processor.flush()
    except Exception as exc:
        pipeline.fault(partition, PartitionFault("housekeeping", processor.applied_offset), exc)
    return []
