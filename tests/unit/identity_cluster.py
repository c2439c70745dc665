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
    # A record leaves only once its row is acknowledged (``ack``), as the worker's sender.
    strict: bool = False
    stores: dict[int, MemoryStore] = field(default_factory=dict)
    procs: dict[int, PartitionProcessor] = field(default_factory=dict)
    inputs: dict[int, list[tuple[bytes | None, bytes, int, int, str | None]]] = field(
        default_factory=dict
    )
    # What each partition applied, in order: ("in", offset) or ("id", offset).
    journal: dict[int, list[tuple[str, int]]] = field(default_factory=dict)
    acked: dict[int, int] = field(default_factory=dict)  # changelog writes acknowledged
    logs: dict[int, list[bytes]] = field(default_factory=dict)  # the identity topic
    consumed: dict[int, int] = field(default_factory=dict)  # next identity offset to apply
    in_flight: list[Flight] = field(default_factory=list)
    wall_ms: int = T0_MS
    lost: dict[str, int] = field(default_factory=lambda: {"rows": 0, "records": 0, "crashes": 0})

    def __post_init__(self) -> None:
        for p in range(self.partitions):
            self.stores[p] = MemoryStore()
            self.procs[p] = self.cfg.processor(p, self.stores[p], self.partitions)
            self.inputs[p], self.logs[p], self.consumed[p] = [], [], 0
            self.journal[p], self.acked[p] = [], 0

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
        self.inputs[p].append((key, value, broker_ms, self.wall_ms, control))
        offset = len(self.inputs[p]) - 1
        self.procs[p].process(key, value, offset, broker_ms, self.wall_ms, control)
        self.journal[p].append(("in", offset))
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

    def ack(self) -> None:
        """Kafka acknowledges every changelog write so far."""
        for p, store in self.stores.items():
            self.acked[p] = len(store.log)

    def deliver(self, count: int | None = None) -> int:
        """Put the oldest ``count`` records in flight (all) on their partitions' logs.

        Strict: only records whose row is acknowledged, each source's in order.
        """
        taken: list[Flight] = []
        blocked: set[int] = set()
        for flight in self.in_flight:
            if count is not None and len(taken) >= count:
                break
            if self.strict and (
                flight.source in blocked or flight.barrier > self.acked[flight.source]
            ):
                blocked.add(flight.source)
                continue
            taken.append(flight)
        kept = {id(f) for f in taken}
        self.in_flight = [f for f in self.in_flight if id(f) not in kept]
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
                self.journal[q].append(("id", offset))
                self.consumed[q] += 1
                applied += 1
                self._collect(q)
        return applied

    def settle(self) -> None:
        while self.in_flight or any(self.consumed[q] < len(self.logs[q]) for q in self.procs):
            self.ack()
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

    def quiet(self, seconds: float = 61) -> None:
        """A quiet minute: the idle rule moves every partition's watermark, so claims
        waiting at an anonymous id's partition for their identify's time are answered
        (in a shop, other customers' events do that)."""
        self.tick(self.wall_ms + int(seconds * 1000))
        self.settle()

    def close_all(self) -> None:
        self.tick(self.wall_ms + 400 * DAY_MS)
        self.settle()
        self.tick(self.wall_ms + 1)

    def restart(self, p: int, cut: int | None = None) -> None:
        """Partition ``p``'s worker dies: its changelog keeps ``cut`` writes (at least the
        acknowledged ones), records in flight from it are lost, and what it applied is
        delivered again in the same order (the applied part is skipped by offset)."""
        log = self.stores[p].log
        cut = len(log) if cut is None else max(cut, self.acked[p])
        store = MemoryStore.replay(log[:cut])
        kept = [f for f in self.in_flight if f.source != p]
        self.lost["rows"] += len(log) - cut
        self.lost["records"] += len(self.in_flight) - len(kept)
        self.lost["crashes"] += 1
        self.in_flight = kept
        proc = self.cfg.processor(p, store, self.partitions)
        proc.recover(self.wall_ms)
        self.stores[p], self.procs[p] = store, proc
        self.acked[p] = len(store.log)  # restored rows are durable
        self._collect(p)  # what recovery sends again
        for kind, offset in self.journal[p]:
            if kind == "in":
                key, value, broker, wall, control = self.inputs[p][offset]
                proc.process(key, value, offset, broker, wall, control)
            else:
                proc.process_identity(self.logs[p][offset], offset)
            self._collect(p)

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

    from tracker.core.timestamps import to_ms

    return to_ms(datetime.fromisoformat(text))
