"""Holes in a partition's offsets: messages Faust fetched but never handed to the agent.

faust-streaming 0.15.3 discards the messages a stream takes from its buffer while a
rebalance suspends the flow or after the consumer generation changed (faust#221,
PR #223), trusting a later seek to the committed offset to fetch them again. When
that seek came first, nothing fetches them again: the fetcher's read offset is past
them, and offsets below it are dropped (``Consumer._drain_messages``). The commit
then moves past them too, since acknowledged offsets are committed from the first
one acknowledged, not from the committed one (``Consumer._new_offset``). Measured
on Kafka (RELIABILITY.md, scenario 4): the worker taking over a paused worker's
partition was first handed offset 994 where 264 was committed and 316 applied, and
677 messages were never counted.

So a message beyond the applied offset + 1 is refused, neither applied nor
acknowledged, and the partition is sought back to the first missing offset. Kafka
may have no record there (a transaction marker, retention): the fetch from the seek
then starts at a later offset. Only that fetch's own first record is accepted as the
next record Kafka has, and only the consumer knows which record that was
(``AfterSeek``, kept by ``faust_patches.SeekTrail``): Faust's buffers still hold
records fetched before the seek, from other positions, and hand them over after it.
Taking any of them for the refetch skipped the records in between (RELIABILITY.md,
bug 9: 1293 applied, 1303 refused, then 1298 from an earlier fetch accepted, and
1294-1297 never counted). The tracker's own producers write no transaction markers,
so a seek is rare and costs one fetch. A dropped message with nothing behind it yet
reveals no hole: a partition whose backlog has not moved for a while is sought back
too (``stalled``). And the refetch itself can be dropped: Faust clears its streams'
queues when it resumes the flow after a rebalance, after aiokafka returned the
records. A refill whose refetch came back from Kafka but has not reached the agent
within its patience, counted from its return (2 s, doubling each time, up to the
stall's 15 s, and kept when the stall check seeks the same refill), is sought again
(``SEEK_AGAIN``). Records queued before the refetch can outlast a short patience: a
seek too many fetches the same records again, and the doubling outgrows the queue.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Verdict(enum.Enum):
    APPLY = "apply"  # in order, a re-delivery, or the next record Kafka has
    SEEK = "seek"  # a hole: refuse the message and seek back to the first missing offset
    WAIT = "wait"  # refuse: beyond the hole, until the fetch from the seek arrives
    # refuse and seek back again: the refetch came back from Kafka long ago, yet not here
    SEEK_AGAIN = "seek again"


@dataclass(frozen=True, slots=True)
class AfterSeek:
    """What the consumer did with a partition since its latest seek."""

    sought: int  # the offset it was sought to; -1 when its position was reset instead
    first: int | None  # the first record fetched from there; None while none came back
    # When ``first`` came back (monotonic seconds): not part of what the record says.
    back_s: float = field(default=0.0, compare=False)


REFETCH_PATIENCE_S = 2.0  # a refetch aiokafka returned reaches the agent by then, or is lost
STALL_AFTER_S = 15.0  # a backlog standing still this long is sought back (``stalled``)
MAX_PATIENCE_S = STALL_AFTER_S  # beyond it, the stall check seeks anyway


@dataclass(frozen=True, slots=True)
class Refill:
    expected: int  # the first missing offset, sought to
    patience_s: float = REFETCH_PATIENCE_S  # doubled on every seek again for a lost refetch


@dataclass
class HoleGuard:
    """Per stream and partition: is this message the next one, or is one missing?"""

    # Per stream and partition: the refill under way.
    refilling: dict[tuple[str, int], Refill] = field(default_factory=dict)
    # Per stream and partition: the applied offset and when it was first seen.
    progress: dict[tuple[str, int], tuple[int, float]] = field(default_factory=dict)

    def forget(self, partition: int) -> None:
        """The partition was revoked: its next owner's processor starts afresh."""
        for at in [at for at in self.refilling if at[1] == partition]:
            del self.refilling[at]
        for at in [at for at in self.progress if at[1] == partition]:
            del self.progress[at]

    def stalled(
        self,
        stream: str,
        partition: int,
        applied: int,
        end: int | None,
        now_s: float,
        after_s: float,
    ) -> bool:
        """True when records exist beyond ``applied`` (``end`` is the log's end offset) and
        it has not moved for ``after_s``: seek back to ``applied + 1``."""
        at = (stream, partition)
        seen = self.progress.get(at)
        if end is None or end <= applied + 1 or seen is None or seen[0] != applied:
            self.progress[at] = (applied, now_s)
            return False
        if now_s - seen[1] < after_s:
            return False
        self.progress[at] = (applied, now_s)  # the next seek, if needed, after as long again
        self.refilling[at] = self._refill(at, applied + 1)
        return True

    def patience_s(self, stream: str, partition: int) -> float:
        """How long the refill under way waits for its refetch (0: none under way)."""
        refill = self.refilling.get((stream, partition))
        return refill.patience_s if refill is not None else 0.0

    def _refill(self, at: tuple[str, int], expected: int) -> Refill:
        """A seek to ``expected``: the same refill keeps its patience, a new one starts afresh."""
        refill = self.refilling.get(at)
        if refill is None or refill.expected != expected:
            return Refill(expected)
        return refill

    def admit(
        self,
        stream: str,
        partition: int,
        offset: int,
        applied: int,
        after_seek: AfterSeek | None = None,
        now_s: float = 0.0,
    ) -> Verdict:
        """What to do with ``offset`` when ``applied`` is the newest offset in state.

        ``after_seek``: the consumer's record of the partition's latest seek, if any;
        ``now_s``: a reading of the monotonic clock ``after_seek.back_s`` was read from.
        """
        at = (stream, partition)
        expected = applied + 1
        if offset < expected:
            return Verdict.APPLY  # applied before: the processor skips it
        if offset == expected:
            self.refilling.pop(at, None)
            return Verdict.APPLY
        refill = self.refilling.get(at)
        if refill is None or refill.expected != expected:
            self.refilling[at] = Refill(expected)  # a new hole
            return Verdict.SEEK
        if after_seek is not None and after_seek.sought != expected:
            # Faust sought the partition elsewhere since (its committed offset, a reset):
            # the refetch will not come from the hole.
            return Verdict.SEEK
        if after_seek is None or after_seek.first is None:
            return Verdict.WAIT  # fetched before the seek; the refetch is not back yet
        if after_seek.first == offset:
            del self.refilling[at]  # the first record Kafka has from the sought offset on
            return Verdict.APPLY
        if now_s - after_seek.back_s >= refill.patience_s:
            # Back from Kafka long ago, yet not here: Faust dropped it from its queues.
            patience = min(2 * refill.patience_s, MAX_PATIENCE_S)
            self.refilling[at] = Refill(expected, patience)
            return Verdict.SEEK_AGAIN
        return Verdict.WAIT  # fetched before the seek, or beyond the refetch's start
