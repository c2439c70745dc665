"""Failures of a partition's own work, as opposed to a bad message (docs/operations.md)."""

from __future__ import annotations

from tracker.core.ingest import DeadLetter


class PartitionFault(Exception):  # noqa: N818 - a fault of the partition, not an input error
    """Work for the partition as a whole failed (closing sessions, a flush, a restore).

    Not one message's fault, so nothing is dead-lettered: the wiring pauses the partition
    (its offsets stay uncommitted, nothing is skipped) until a restart retries it.
    """

    def __init__(self, step: str, offset: int) -> None:
        super().__init__(f"{step} failed at offset {offset}")
        self.step = step
        self.offset = offset
        self.letters: list[DeadLetter] = []  # of the message that was applied, still to send
