"""Sending identity records once the rows that made them are in the changelog.

A processor queues each identity record with the row that made it (docs/identity.md
#exactness); the record may leave only after Kafka acknowledged that row, or a
crash could lose the row while the record it caused is already delivered. So
records wait here behind the changelog write of their message (its *barrier*)
and one task sends them in the order they were made: records of one source
reach each target partition in order, which the receiving rows rely on.

What was sent before a commit's flush completed is acknowledged; the processors
then drop those records from their rows at the next housekeeping.

Records are appended to the producer's open batches in the call (``ChangelogAppender``),
not sent one ``await topic.send`` at a time: each of those awaits gave the event loop to
the agents, which process a whole batch of messages per pass, so the sender made one
record per pass. Once a worker made records faster than that, they queued here, the
hand-overs they carried came minutes late, customers' rows filled with held events and
grew, and the worker fell further behind (the soak of 2026-12-07, BENCHMARKS.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tracker.core.identity_stage import Send
from tracker.core.partition import PartitionProcessor
from tracker.stream.changelog import ChangelogAppender
from tracker.stream.pending import PendingWrites
from tracker.stream.side_records import faust_sent

log = logging.getLogger("tracker.stream.worker")


@dataclass
class _Batch:
    partition: int  # the source partition
    sends: Sequence[Send]
    barrier: Any  # the changelog write to wait for, or None (restored rows: durable)


@dataclass
class IdentitySender:
    """One task per worker; ``submit`` from the agents, ``run`` as a Faust task."""

    topic: Any  # the identity topic
    pending: PendingWrites
    appender: ChangelogAppender | None = None  # None: every record takes Faust's path
    queue: asyncio.Queue[_Batch] = field(default_factory=asyncio.Queue)
    # Source partition -> origin stream -> newest origin offset whose records were sent.
    issued: dict[int, dict[int, int]] = field(default_factory=dict)
    revoked: set[int] = field(default_factory=set)

    def submit(self, processor: PartitionProcessor, barrier: Any) -> None:
        sends = processor.identity.take()
        if sends:
            self.revoked.discard(processor.partition)
            self.queue.put_nowait(_Batch(processor.partition, sends, barrier))

    def revoke(self, partitions: set[int]) -> None:
        """Their next owner re-sends what their rows keep: queued records here are dropped."""
        self.revoked |= partitions

    async def run(self) -> None:
        while True:
            batch = await self.queue.get()
            if batch.barrier is not None:
                try:
                    await asyncio.shield(batch.barrier)
                except Exception:  # the row was not written: a restart re-sends from state
                    continue
            if batch.partition in self.revoked:
                continue
            issued = self.issued.setdefault(batch.partition, {})
            for send in batch.sends:
                await self._send(send)
                issued[send.stream] = max(issued.get(send.stream, -1), send.offset)

    async def _send(self, send: Send) -> None:
        """Appended (its batch tracked by the appender), or sent through Faust, in order."""
        appender, topic = self.appender, self.topic.get_topic_name()
        if appender is not None and appender.append_or_detour(
            topic, send.key, send.value, [], send.partition
        ):
            return
        sending = self.topic.send(key=send.key, value=send.value, partition=send.partition)
        self.pending.track(await faust_sent(appender, topic, sending))

    def checkpoint(
        self, processors: Callable[[], Mapping[int, PartitionProcessor]]
    ) -> Callable[[], None]:
        """Before a flush: what is sent now is acknowledged once the flush succeeded."""
        marks = {p: dict(streams) for p, streams in self.issued.items()}

        def acknowledged() -> None:
            current = processors()
            for partition, streams in marks.items():
                processor = current.get(partition)
                if processor is not None:
                    for stream, offset in streams.items():
                        processor.identity.acknowledged(stream, offset)

        return acknowledged
