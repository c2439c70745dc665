"""Several partitions with the identity topic between them, delivery in the test's hands.

``ReferencePipeline`` delivers identity records at once; real Kafka delivers them
later, in any interleaving with the input, and after a crash again. Here records
wait ``in_flight`` until the test delivers them to the target partition's log, and
each partition applies its log when the test says (``consume``), so a test can
play any interleaving, lose what a crash loses and compare with the reference.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.unit.helpers import T0_MS, config, encode, samples_of
from tracker.core.identity_stage import Send, acknowledge_all
from tracker.core.memory_store import MemoryStore
from tracker.core.partition import PartitionProcessor
from tracker.core.pipeline_config import PipelineConfig
from tracker.kafka.partitioner import partition_for
from tracker.metrics.samples import Sample, total

DAY_MS = 86_400_000


@dataclass
class Flight:
    source: int
    send: Send
    barrier: int  # the source changelog's length once the row that made it was written


@dataclass
class Cluster:
    partitions: int = 4
    cfg: PipelineConfig = field(default_factory=config)
    auto: bool = True  # deliver and apply identity records right after each message
    stores: dict[int, MemoryStore] = field(default_factory=dict)
    procs: dict[int, PartitionProcessor] = field(default_factory=dict)
    inputs: dict[int, list[tuple[bytes | None, bytes, int, int]]] = field(default_factory=dict)
    logs: dict[int, list[bytes]] = field(default_factory=dict)  # the identity topic
    consumed: dict[int, int] = field(default_factory=dict)  # next identity offset to apply
    in_flight: list[Flight] = field(default_factory=list)
    wall_ms: int = T0_MS

    def __post_init__(self) -> None:
        for p in range(self.partitions):
            self.stores[p] = MemoryStore()
            self.procs[p] = self.cfg.processor(p, self.stores[p], self.partitions)
            self.inputs[p], self.logs[p], self.consumed[p] = [], [], 0

    def partition_of(self, customer: str) -> int:
        return partition_for(customer.encode(), self.partitions)

    # --- input ------------------------------------------------------------------------
    def send(self, *events: dict[str, Any], batch: bool = False, at_ms: int | None = None) -> None:
        """Events one message each (or one batch), at broker time = their latest event time."""
        messages = [list(events)] if batch else [[e] for e in events]
        for message in messages:
            key = message[0]["customer_id"]
            broker = at_ms if at_ms is not None else max(_ms(e["occurred_at"]) for e in message)
            value = encode(message if batch else message[0])
            self.raw(key.encode(), value, broker)

    def raw(
        self, key: bytes | None, value: bytes, broker_ms: int, control: str | None = None
    ) -> None:
        self.wall_ms = max(self.wall_ms, broker_ms)
        p = partition_for(key, self.partitions)
        self.inputs[p].append((key, value, broker_ms, self.wall_ms))
        offset = len(self.inputs[p]) - 1
        self.procs[p].process(key, value, offset, broker_ms, self.wall_ms, control)
        self._collect(p)
        if self.auto:
            self.settle()

    def erase(self, customer: str, broker_ms: int) -> None:
        self.raw(customer.encode(), b"{}", broker_ms, control="erase")

    # --- the identity topic -----------------------------------------------------------
    def _collect(self, p: int) -> None:
        barrier = len(self.stores[p].log)
        for send in self.procs[p].identity.take():
            self.in_flight.append(Flight(p, send, barrier))
        self.procs[p].outbox.clear()  # account activities: another stage

    def deliver(self, count: int | None = None) -> int:
        """Put the oldest ``count`` records in flight (all) on their partitions' logs."""
        taken = self.in_flight[: len(self.in_flight) if count is None else count]
        del self.in_flight[: len(taken)]
        for flight in taken:
            self.logs[flight.send.partition].append(flight.send.value)
            source = self.procs[flight.source]
            source.identity.acknowledged(flight.send.stream, flight.send.offset)
        return len(taken)

    def consume(self, p: int | None = None) -> int:
        """Apply what partition ``p``'s log (every log) holds beyond what was applied."""
        applied = 0
        for q in [p] if p is not None else list(self.procs):
            while self.consumed[q] < len(self.logs[q]):
                offset = self.consumed[q]
                self.procs[q].process_identity(self.logs[q][offset], offset)
                self.consumed[q] += 1
                applied += 1
                self._collect(q)
        return applied

    def settle(self) -> None:
        while self.in_flight or any(self.consumed[q] < len(self.logs[q]) for q in self.procs):
            self.deliver()
            self.consume()

    # --- time and crashes ---------------------------------------------------------------
    def tick(self, wall_ms: int) -> None:
        self.wall_ms = max(self.wall_ms, wall_ms)
        for p, proc in self.procs.items():
            proc.tick(self.wall_ms)
            self._collect(p)
            proc.flush()
        if self.auto:
            self.settle()

    def close_all(self) -> None:
        self.tick(self.wall_ms + 400 * DAY_MS)
        self.settle()
        self.tick(self.wall_ms + 1)

    def restart(self, p: int, cut: int | None = None) -> None:
        """Partition ``p``'s worker dies: its changelog keeps ``cut`` writes, records in
        flight from it are lost, and input and identity records are delivered again."""
        log = self.stores[p].log
        store = MemoryStore.replay(log[: len(log) if cut is None else cut])
        self.in_flight = [f for f in self.in_flight if f.source != p]
        proc = self.cfg.processor(p, store, self.partitions)
        proc.recover(self.wall_ms)
        self.stores[p], self.procs[p] = store, proc
        self._collect(p)  # what recovery sends again
        for offset, (key, value, broker, wall) in enumerate(self.inputs[p]):
            proc.process(key, value, offset, broker, wall)
            self._collect(p)
        self.consumed[p] = 0  # from the start: everything applied is skipped by offset

    def acknowledge_all(self) -> None:
        for proc in self.procs.values():
            acknowledge_all(proc, [])

    # --- reading ----------------------------------------------------------------------------
    def samples(self) -> list[Sample]:
        for proc in self.procs.values():
            proc.flush()
        return samples_of(self.procs, self.cfg, self.wall_ms)

    def total(self, name: str, **labels: str) -> float:
        return total(self.samples(), name, **labels)


def _ms(text: str) -> int:
    from datetime import datetime

    from tracker.core.events import to_ms

    return to_ms(datetime.fromisoformat(text))
