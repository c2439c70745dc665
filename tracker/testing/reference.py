"""The whole pipeline without Kafka: partitions, processors and metrics in one process.

Used to compute the expected metrics of a stream independently of the
worker (tests, benchmarks) and by ``tracker inspect`` style tooling. It
routes keys with Kafka's default partitioner, so per-partition watermarks
match a real topic with the same partition count.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry

from tracker.core.accounts import AccountProcessor, pack
from tracker.core.identity_stage import acknowledge_all
from tracker.core.ingest import DeadLetter
from tracker.core.memory_store import MemoryStore
from tracker.core.partition import PartitionProcessor
from tracker.core.pipeline_config import PipelineConfig
from tracker.kafka.partitioner import partition_for
from tracker.metrics.exposition import StateExporter
from tracker.metrics.samples import Sample
from tracker.testing.offline_exporter import offline_exporter, offline_registry, offline_samples


@dataclass
class ReferencePipeline:
    config: PipelineConfig
    partitions: int = 8
    stores: dict[int, MemoryStore] = field(default_factory=dict)
    processors: dict[int, PartitionProcessor] = field(default_factory=dict)
    now_ms: int = 0

    account_stores: dict[int, MemoryStore] = field(default_factory=dict)
    accounts: dict[int, AccountProcessor] = field(default_factory=dict)
    letters: list[DeadLetter] = field(default_factory=list)  # what went to the dead-letter topic

    def __post_init__(self) -> None:
        for p in range(self.partitions):
            store = self.stores.setdefault(p, MemoryStore())
            self.processors[p] = self.config.processor(p, store, self.partitions)
            account_store = self.account_stores.setdefault(p, MemoryStore())
            self.accounts[p] = self.config.account_processor(p, account_store)
        self._offsets = dict.fromkeys(range(self.partitions), -1)
        self._account_offsets = dict.fromkeys(range(self.partitions), -1)
        self._identity_offsets = dict.fromkeys(range(self.partitions), -1)

    def feed(self, key: bytes | None, value: bytes | None, broker_ms: int, now_ms: int) -> int:
        partition = partition_for(key, self.partitions)
        self._offsets[partition] += 1
        self.now_ms = now_ms
        processor = self.processors[partition]
        self.letters += processor.process(key, value, self._offsets[partition], broker_ms, now_ms)
        self._route(processor, now_ms)
        return partition

    def _route(self, processor: PartitionProcessor, now_ms: int) -> None:
        """Identity records go to their row's partition, in order, as through the identity topic."""
        self._route_activities(processor, now_ms)
        deliver_identity(
            self.processors,
            processor,
            self._identity_offsets,
            lambda target: self._route_activities(target, now_ms),
        )

    def _route_activities(self, processor: PartitionProcessor, now_ms: int) -> None:
        """The re-keyed stage: activities go to the account's partition, as through Kafka."""
        for account, record in pack(processor.outbox):
            target = partition_for(account.encode(), self.partitions)
            self._account_offsets[target] += 1
            self.accounts[target].process(record, self._account_offsets[target], now_ms)
        processor.outbox.clear()

    def tick(self, now_ms: int) -> None:
        self.now_ms = now_ms
        for processor in self.processors.values():
            processor.tick(now_ms)
            self._route(processor, now_ms)
            processor.flush()
        for account in self.accounts.values():
            account.tick(now_ms)
            account.flush()

    def samples(self) -> list[Sample]:
        return offline_samples(self.exporter())

    def registry(self) -> CollectorRegistry:
        """The worker's exporter over these partitions, as a registry of its own."""
        return offline_registry(self.exporter())

    def exporter(self) -> StateExporter:
        """The worker's exporter over these partitions, at the stream's clock."""
        return offline_exporter(self.processors, self.config, self.now_ms, self.accounts)


def deliver_identity(
    processors: Mapping[int, PartitionProcessor],
    source: PartitionProcessor,
    offsets: dict[int, int],
    reached: Callable[[PartitionProcessor], None],
) -> None:
    """``source``'s identity records to their row's partition, in order, as through the
    identity topic, and what they send in turn; each delivered at once, so acknowledged.

    ``offsets``: the identity topic's last offset per partition, advanced here;
    ``reached``: called with each partition a record was just applied to.
    """
    queue = deque([(source, source.identity.take())])
    while queue:
        origin, sends = queue.popleft()
        acknowledge_all(origin, sends)  # delivered right here: nothing is left to re-send
        for send in sends:
            target = processors[send.partition]
            offsets[send.partition] += 1
            target.process_identity(send.value, offsets[send.partition])
            reached(target)
            queue.append((target, target.identity.take()))
