"""What the Faust agents do with each message: find the partition's processor, apply, emit.

The agents in ``app`` only iterate Faust streams and call these methods, so the whole
per-message path (processor lookup, dead letters, account activity, recovery hooks,
housekeeping) reads as plain methods, one per step.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from tracker.core.accounts import AccountProcessor
from tracker.core.aggregates import counter_key
from tracker.core.faults import PartitionFault
from tracker.core.identity_stage import fail_record
from tracker.core.ingest import DeadLetter
from tracker.core.partition import PartitionProcessor
from tracker.core.pipeline_config import PipelineConfig
from tracker.core.reroute import count_rerouted
from tracker.kafka.changelog_codec import UnknownDictionaryError
from tracker.kafka.topics import CONTROL_HEADER, activity_topic
from tracker.settings import Settings
from tracker.stream.changelog import ChangelogAppender
from tracker.stream.housekeeping import housekeeping
from tracker.stream.identity import IdentitySender
from tracker.stream.pending import PendingWrites
from tracker.stream.reroute import misplaced, reroute
from tracker.stream.rewinder import Rewind, Rewinder, Sought
from tracker.stream.side_records import SideRecords, SideTopics, apply_held, send_rest
from tracker.stream.store import FaustStore

log = logging.getLogger("tracker.stream.worker")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class WorkerState:
    """What the running worker holds besides Faust itself."""

    settings: Settings
    config: PipelineConfig
    partitions: int
    processors: dict[int, PartitionProcessor] = field(default_factory=dict)
    accounts: dict[int, AccountProcessor] = field(default_factory=dict)
    ready: bool = False
    # Messages Faust delivered again after a restart or rebalance (at-least-once) that the
    # restored state had already applied: skipped, and logged once the partition moves on.
    redelivered: dict[int, int] = field(default_factory=dict)
    last_offsets: dict[int, int] = field(default_factory=dict)
    pending: PendingWrites = field(default_factory=PendingWrites)
    # Input partitions paused after a fault in their timer, flush or restore: not
    # processed and not acknowledged (so not committed) until a restart retries them.
    failed: dict[int, PartitionFault] = field(default_factory=dict)
    # Appends the tables' changelog records to the producer's batches (stream.changelog);
    # None: Faust's ``send_changelog``.
    changelog: ChangelogAppender | None = None


@dataclass
class Topology:
    """The Faust topics and tables one worker reads and writes."""

    source: Any  # the input topic
    dlq: Any
    activities: Any  # the re-keyed account-activity topic
    identity: Any  # identity stitching's topic, co-partitioned with the input
    table: Any  # customer state rows
    account_table: Any  # account state rows


class Pipeline:
    """The worker's message handling, between Faust's streams and the pure processors."""

    def __init__(
        self,
        worker: WorkerState,
        topology: Topology,
        pause: Callable[[int], None] = lambda _partition: None,
        rewind: Rewind | None = None,
        sought: Sought | None = None,
    ) -> None:
        self.worker = worker
        self.topology = topology
        self.pause = pause  # stops fetching an input partition (the consumer's pause)
        self.offsets = Rewinder(rewind, sought)  # messages Faust dropped are fetched again
        self.sender = IdentitySender(topology.identity, worker.pending, worker.changelog)
        worker.pending.checkpoints.append(lambda: self.sender.checkpoint(lambda: worker.processors))

    @cached_property
    def sides(self) -> SideTopics:
        """Where a message's records besides its rows go (stream.side_records)."""
        settings = self.worker.settings
        return SideTopics(settings.topic, settings.dlq_topic, activity_topic(settings.worker_id))

    # --- faults -----------------------------------------------------------------
    def fault(self, partition: int, fault: PartitionFault, cause: BaseException) -> None:
        """Pause a partition whose own work failed; the others go on (docs/operations.md)."""
        if partition in self.worker.failed:
            return
        self.worker.failed[partition] = fault
        # The frames only: an exception's text could quote customer data (a row's codec
        # error does not, and says which release to run).
        known = isinstance(cause, UnknownDictionaryError)
        log.error(
            "partition %d paused: %s (%s); it stays paused until the worker restarts\n%s",
            partition,
            fault,
            f"{type(cause).__name__}: {cause}" if known else type(cause).__name__,
            "".join(traceback.format_tb(cause.__traceback__)),
        )
        self.pause(partition)

    # --- processors ---------------------------------------------------------------
    def processor_for(self, partition: int) -> PartitionProcessor | None:
        """The partition's processor, restored on first use; None while it is paused."""
        worker = self.worker
        if partition in worker.failed:
            return None
        processor = worker.processors.get(partition)
        if processor is None:
            store = self._store(self.topology.table, partition)
            processor = worker.config.processor(partition, store, worker.partitions)
            try:
                processor.recover(now_ms())
            except Exception as exc:
                self.fault(partition, PartitionFault("restoring state", -1), exc)
                return None
            worker.processors[partition] = processor
            self.sender.submit(processor, None)  # what the restored rows kept: out again
            log.info(
                "partition %d: state restored (applied offset %d, %d events received)",
                partition,
                processor.applied_offset,
                received(processor),
            )
        return processor

    def _store(self, table: Any, partition: int) -> FaustStore:
        """A partition's view of ``table``, writing its changelog with the configured codec."""
        worker = self.worker
        codec, appender = worker.settings.changelog_codec, worker.changelog
        return FaustStore(table, partition, worker.pending, codec=codec, appender=appender)

    def account_processor_for(self, partition: int) -> AccountProcessor:
        worker = self.worker
        processor = worker.accounts.get(partition)
        if processor is None:
            store = self._store(self.topology.account_table, partition)
            processor = worker.config.account_processor(partition, store)
            processor.recover(now_ms())
            worker.accounts[partition] = processor
        return processor

    # --- messages -------------------------------------------------------------------
    async def handle(self, message: Any) -> bool:
        """One input message: apply it, then send its dead letters and account activity.

        False: the partition is paused, the message was not applied and must not be
        acknowledged (its offset is then never committed, so a restart retries it).
        """
        processor = self.processor_for(message.partition)
        if processor is None:
            return False
        if not await self.offsets.admit("input", message, processor.applied_offset):
            return False
        note_redelivery(self.worker, message.partition, message.offset, processor.applied_offset)
        target = misplaced(message.key, message.partition, self.worker.partitions)
        if target is not None:  # another partitioner's message: to its key's partition
            await self._reroute(processor, message, target)
            return True
        # Its rows wait for its letters and activity (stream.side_records).
        side = apply_held(
            processor, lambda: self._apply(processor, message), self.worker.changelog, self.sides
        )
        await self._emit(processor, side)
        return True

    def _apply(self, processor: PartitionProcessor, message: Any) -> list[DeadLetter]:
        """The message applied: its dead letters (a partition fault pauses the partition)."""
        try:
            return processor.process(
                message.key,
                message.value,
                message.offset,
                int(message.timestamp * 1000),
                now_ms(),
                control_of(message.headers),
            )
        except PartitionFault as fault:  # the message is applied; its partition's work is not
            self.fault(message.partition, fault, fault.__cause__ or fault)
            return fault.letters
        except Exception as exc:  # a bug must not stop the partition: dead-letter and go on
            # The frames only: an exception's text could quote customer data.
            log.error(
                "partition %d offset %d: internal error %s, message dead-lettered\n%s",
                message.partition,
                message.offset,
                type(exc).__name__,
                "".join(traceback.format_tb(exc.__traceback__)),
            )
            return [processor.fail(message.value, message.offset, exc)]

    async def _emit(self, processor: PartitionProcessor, side: SideRecords) -> None:
        await self.send_rest(side)
        # After the changelog write of the row that made them (stream.identity).
        self.sender.submit(processor, getattr(processor.store, "last_write", None))
        if self.worker.changelog is not None:  # too many changelog batches: wait for some
            await self.worker.changelog.ebb()

    async def handle_identity(self, message: Any) -> bool:
        """One identity-topic record, applied by the processor of the same partition number.

        False: the partition is paused; the record is left unacknowledged like its input.
        """
        processor = self.processor_for(message.partition)
        if processor is None:
            return False
        if not await self.offsets.admit("identity", message, processor.identity.applied):
            return False
        side = apply_held(
            processor,
            lambda: self._apply_identity(processor, message),
            self.worker.changelog,
            self.sides,
        )
        await self._emit(processor, side)
        return True

    def _apply_identity(self, processor: PartitionProcessor, message: Any) -> list[DeadLetter]:
        try:
            processor.process_identity(message.value, message.offset)
        except PartitionFault as fault:  # applied; its partition's work is not
            self.fault(message.partition, fault, fault.__cause__ or fault)
        except Exception as exc:  # a bug must not stop the partition
            log.error(
                "partition %d identity offset %d: internal error %s, record skipped\n%s",
                message.partition,
                message.offset,
                type(exc).__name__,
                "".join(traceback.format_tb(exc.__traceback__)),
            )
            fail_record(processor, message.offset)
        return []

    async def _reroute(self, processor: PartitionProcessor, message: Any, target: int) -> None:
        """docs/operations.md#re-routing: the copy is acknowledged before the offset commits."""
        self.worker.pending.track(await reroute(self.topology.source, message, target))
        try:
            count_rerouted(processor, message.offset, now_ms())
        except PartitionFault as fault:
            self.fault(message.partition, fault, fault.__cause__ or fault)

    async def handle_activity(self, message: Any) -> bool:
        """One account-activity record; False: refused for a hole, left unacknowledged."""
        processor = self.account_processor_for(message.partition)
        if not await self.offsets.admit("activity", message, processor.applied_offset):
            return False
        processor.process(message.value, message.offset, now_ms())
        if self.worker.changelog is not None:
            await self.worker.changelog.ebb()
        return True

    # --- group membership ----------------------------------------------------------------
    def on_recovered(self, active: set[int]) -> None:
        """The customer table is restored: keep exactly the actively assigned partitions."""
        processors = self.worker.processors
        for partition in list(processors):
            if partition not in active:
                del processors[partition]
        for partition in sorted(active):
            self.processor_for(partition)
        self.worker.ready = True

    def on_accounts_recovered(self, active: set[int]) -> None:
        accounts = self.worker.accounts
        for partition in list(accounts):
            if partition not in active:
                del accounts[partition]
        for partition in sorted(active):
            self.account_processor_for(partition)

    def on_revoked(self, revoked: Iterable[Any], activity_topic: str) -> None:
        # No flush here: a member the group already expired (paused, cut off) is told of
        # the revocation only after the next owner started writing the same changelog
        # partitions; a flush now would land stale rows after the new owner's. The new owner
        # restores unflushed epochs from the rows' deltas, exactly as after a crash.
        worker = self.worker
        worker.ready = False
        self.sender.revoke({tp.partition for tp in revoked if tp.topic == worker.settings.topic})
        for tp in revoked:
            self.offsets.guard.forget(tp.partition)
            if tp.topic == worker.settings.topic:
                gone = worker.processors.pop(tp.partition, None)
                if gone is not None:  # the next owner's "state restored" line should match it
                    log.info(
                        "partition %d: revoked (applied offset %d, %d events received)",
                        tp.partition,
                        gone.applied_offset,
                        received(gone),
                    )
                worker.failed.pop(tp.partition, None)  # its next owner retries it
            elif tp.topic == activity_topic:
                worker.accounts.pop(tp.partition, None)

    async def seek_stalled(self, highwater: Callable[[str, int], int | None], now_s: float) -> None:
        """Seek back the streams of partitions whose backlog stands still (``stream.holes``)."""
        worker = self.worker

        def applied(partition: int) -> dict[str, int | None]:
            processor, account = worker.processors.get(partition), worker.accounts.get(partition)
            if processor is None:  # revoked meanwhile
                return {}
            return {
                "input": processor.applied_offset,
                "identity": processor.identity.applied,
                "activity": account.applied_offset if account is not None else None,
            }

        partitions = [p for p in list(worker.processors) if p not in worker.failed]
        await self.offsets.seek_stalled(partitions, applied, highwater, now_s)

    async def housekeeping(self) -> None:
        """The flush timer (``stream.housekeeping``)."""
        await housekeeping(self, now_ms())

    async def send_rest(self, side: SideRecords) -> None:
        """What could not be appended ahead of the rows: through Faust, after them."""
        topology, worker = self.topology, self.worker
        dlq, activities = topology.dlq, topology.activities
        await send_rest(side, dlq, activities, worker.pending, self.sides, worker.changelog)


def received(processor: PartitionProcessor) -> int:
    """Events counted as received so far: compared across a hand-over in the logs."""
    return processor.aggregates.counters.get(counter_key("tracker_events_received_total"), 0)


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
