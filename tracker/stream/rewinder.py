"""The worker's side of ``stream.holes``: refuse, seek back, and log it."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from tracker.stream.holes import STALL_AFTER_S, AfterSeek, HoleGuard, Verdict

log = logging.getLogger("tracker.stream.worker")
# Seeks ``stream`` ("input", "identity" or "activity")'s partition back to an offset.
Rewind = Callable[[str, int, int], Awaitable[None]]


# Where each stream of a partition stands: its newest applied offset, by stream.
Applied = Callable[[int], dict[str, int | None]]
# The consumer's record of a stream's partition since its latest seek (``SeekTrail``).
Sought = Callable[[str, int], AfterSeek | None]


async def _no_rewind(_stream: str, _partition: int, _offset: int) -> None:
    return None


def _nothing_sought(_stream: str, _partition: int) -> AfterSeek | None:
    return None


class Rewinder:
    def __init__(self, rewind: Rewind | None = None, sought: Sought | None = None) -> None:
        self.guard = HoleGuard()
        self.rewind = rewind or _no_rewind
        self.sought = sought or _nothing_sought

    async def admit(self, stream: str, message: Any, applied: int) -> bool:
        """Apply ``message`` only if no offset before it is missing."""
        partition, offset = message.partition, message.offset
        gap = offset > applied + 1  # rare: the consumer's record and the clock only then
        after_seek = self.sought(stream, partition) if gap else None
        now_s = time.monotonic() if gap else 0.0
        verdict = self.guard.admit(stream, partition, offset, applied, after_seek, now_s)
        if verdict is Verdict.APPLY:
            if gap:  # a count short by these offsets would start here
                log.info(
                    "partition %d of the %s topic: Kafka holds no record at offsets %d-%d "
                    "(the fetch from the seek began at %d); going on from there",
                    partition,
                    stream,
                    applied + 1,
                    offset - 1,
                    offset,
                )
            return True
        if verdict is Verdict.SEEK:
            log.warning(
                "partition %d of the %s topic: handed offset %d while %d is the next to "
                "apply; seeking back to it (Faust dropped messages around a rebalance)",
                partition,
                stream,
                offset,
                applied + 1,
            )
            await self._seek(stream, partition, applied + 1)
        elif verdict is Verdict.SEEK_AGAIN and after_seek is not None:
            log.warning(
                "partition %d of the %s topic: the refetch from offset %d came back from "
                "Kafka %.1fs ago but never reached the agent (Faust cleared its queues); "
                "seeking back again, waiting up to %.0fs for it next time",
                partition,
                stream,
                applied + 1,
                now_s - after_seek.back_s,
                self.guard.patience_s(stream, partition),
            )
            await self._seek(stream, partition, applied + 1)
        return False

    async def seek_stalled(
        self,
        partitions: Iterable[int],
        applied: Applied,
        highwater: Callable[[str, int], int | None],
        now_s: float,
    ) -> None:
        """Seek back each stream whose backlog stands still.

        ``highwater(stream, partition)``: the end offset of the stream's partition last seen;
        ``now_s``: a monotonic clock's reading.
        """
        for partition in partitions:
            for stream, offset in applied(partition).items():
                end = highwater(stream, partition)
                if offset is None or not self.guard.stalled(
                    stream, partition, offset, end, now_s, STALL_AFTER_S
                ):
                    continue
                log.warning(
                    "partition %d of the %s topic: no progress past offset %d for %.0fs "
                    "with records up to offset %s; seeking back to the next one",
                    partition,
                    stream,
                    offset,
                    STALL_AFTER_S,
                    end,
                )
                await self._seek(stream, partition, offset + 1)

    async def _seek(self, stream: str, partition: int, offset: int) -> None:
        try:
            await self.rewind(stream, partition, offset)
        except Exception as exc:  # the next message beyond the hole, or the next check, retries
            self.guard.forget(partition)
            log.error(
                "partition %d of the %s topic: seeking back failed (%r)", partition, stream, exc
            )
