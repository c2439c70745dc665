"""A partition's side of the identity topic: apply its records, send what rows made.

The identity topic has the input topic's partition count and Faust assigns
its partitions with the input's (co-partitioned), so partition ``p`` of both
is applied by the same ``PartitionProcessor`` and writes the same changelog
partition. Exactness through crashes (docs/identity.md#exactness):

- every record applied writes exactly one row, which carries this topic's
  applied offset (``i``) beside the input's (``o``): a record already applied
  before a crash is skipped when Kafka delivers it again;
- a record is sent only once the row that made it is in the changelog, and
  that row keeps it (``IdentityState.out``) until Kafka acknowledged it: after
  a crash, recovery sends every kept record again, in the order first sent;
- the receiving row remembers the highest origin it applied per source
  partition and stream (records of one source reach one target partition in
  order), so a record sent twice is applied once.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from tracker.core.aggregates import COUNTER_ROW, Aggregates, Delta, counter_key
from tracker.core.customer import CustomerState
from tracker.core.customer_context import CustomerContext
from tracker.core.identity_customer import apply_record
from tracker.core.identity_records import (
    STREAM_IDENTITY,
    STREAM_INPUT,
    STREAM_TIMER,
    InvalidRecordError,
    record_from_bytes,
)
from tracker.core.identity_state import Outgoing, sorted_out

if TYPE_CHECKING:
    from tracker.core.partition import PartitionProcessor


@dataclass(frozen=True, slots=True)
class HoldLimits:
    """How long a customer's events wait for a pending hand-over (docs/identity.md#holding)."""

    events: int = 50  # TRACKER_IDENTITY_HOLD_EVENTS
    # TRACKER_IDENTITY_HOLD_TIMEOUT: event time after the identify. Long, for replays: event
    # time then runs far ahead of the wall clock a hand-over takes.
    ms: int = 600_000


@dataclass(frozen=True, slots=True)
class Send:
    """A record for the wiring to send, once the row that made it is in the changelog."""

    partition: int
    key: bytes
    value: bytes
    stream: int  # its origin: what the wiring reports acknowledged (``acknowledged``)
    offset: int


@dataclass(slots=True)
class IdentityStage:
    partition: int
    hold: HoldLimits = field(default_factory=HoldLimits)
    applied: int = -1  # the newest identity-topic offset whose effects are in state
    outbox: list[Send] = field(default_factory=list)  # drained by the wiring
    # Per origin stream, the newest offset whose records Kafka acknowledged (the wiring's
    # word): rows drop those records at the next housekeeping.
    durable: dict[int, int] = field(default_factory=dict)
    # Per origin stream, (offset, row key) of every record a row keeps, lowest offset on top:
    # housekeeping reads only the rows holding a record Kafka acknowledged. Scanning all
    # rows that keep one read thousands still waiting at every tick once the worker fell
    # behind, and so fell further behind (the 60-minute soak, 2026-12-07).
    unacknowledged: dict[int, list[tuple[int, str]]] = field(default_factory=dict)
    timer: int = -1  # housekeeping steps that made records: their origin offsets (STREAM_TIMER)
    _seq: int = 0
    _recovered: list[Outgoing] = field(default_factory=list)

    @property
    def offsets(self) -> tuple[int, int]:
        """What every row written carries: the identity topic's and the timer's offsets."""
        return self.applied, self.timer

    def next_timer(self, aggregates: Aggregates) -> int:
        """A fresh origin offset for records made by housekeeping (rows carry it as ``t``)."""
        self.timer = aggregates.timer_offset = self.timer + 1
        aggregates.dirty.add(COUNTER_ROW)
        return self.timer

    def next_seq(self) -> int:
        seq = self._seq
        self._seq += 1
        return seq

    def queue(self, entry: Outgoing, row_key: str | None) -> None:
        value = orjson.dumps(entry.record)
        self.outbox.append(
            Send(entry.partition, entry.key.encode(), value, entry.stream, entry.offset)
        )
        if row_key is not None:
            self.keep(entry, row_key)

    def keep(self, entry: Outgoing, row_key: str) -> None:
        """The row ``row_key`` keeps ``entry`` until it is acknowledged."""
        heapq.heappush(self.unacknowledged.setdefault(entry.stream, []), (entry.offset, row_key))

    def acknowledged(self, stream: int, offset: int) -> None:
        """Kafka acknowledged every record made by ``stream`` messages up to ``offset``."""
        self.durable[stream] = max(self.durable.get(stream, -1), offset)

    def keeps_records(self) -> bool:
        """Whether a row may still keep a record housekeeping has not dropped."""
        return any(self.unacknowledged.values())

    def unacknowledged_records(self) -> int:
        """Records rows keep until Kafka acknowledges them (those acknowledged since the
        last housekeeping included: it drops them)."""
        return sum(map(len, self.unacknowledged.values()))

    def acknowledged_rows(self, budget: int) -> list[str]:
        """Up to ``budget`` rows keeping a record now acknowledged (each once); the rest
        stay for the next housekeeping."""
        rows: dict[str, None] = {}  # insertion-ordered: the row writes follow the offsets
        for stream in sorted(self.unacknowledged):
            heap, durable = self.unacknowledged[stream], self.durable.get(stream, -1)
            while heap and heap[0][0] <= durable:
                key = heap[0][1]
                if len(rows) >= budget and key not in rows:
                    break
                heapq.heappop(heap)
                rows[key] = None
        return list(rows)

    def take(self) -> list[Send]:
        sends, self.outbox = self.outbox, []
        return sends

    # --- recovery -----------------------------------------------------------------------
    def recovered_row(self, key: str, state: CustomerState | None, body: dict[str, Any]) -> None:
        self.applied = max(self.applied, int(body.get("i", -1)))
        self.timer = max(self.timer, int(body.get("t", -1)))
        identity = state.identity if state is not None else None
        if identity is not None and identity.out:
            self._recovered.extend(identity.out)
            for entry in identity.out:
                self.keep(entry, key)
            self._seq = max(self._seq, *(x.seq + 1 for x in identity.out))

    def recovered(self, aggregates: Aggregates) -> None:
        """The offsets as restored (rows and counter row), and the kept records sent again."""
        self.applied = aggregates.identity_offset = max(self.applied, aggregates.identity_offset)
        self.timer = aggregates.timer_offset = max(self.timer, aggregates.timer_offset)
        self.resend_recovered()

    def resend_recovered(self) -> None:
        """Every record a restored row still keeps goes out again, in the order first sent."""
        for entry in sorted_out(self._recovered):
            self.queue(entry, None)
        self._recovered = []


def process_record(p: PartitionProcessor, value: bytes | None, offset: int) -> None:
    """Apply one identity-topic record to the row it names; one row write, always."""
    stage = p.identity
    if offset <= stage.applied:
        return  # applied before a crash; what it sent is re-sent by recovery
    stage.applied = p.aggregates.identity_offset = offset
    p.aggregates.dirty.add(COUNTER_ROW)
    try:
        record = record_from_bytes(value)
    except InvalidRecordError:
        delta = Delta()
        delta.count(counter_key("tracker_identity_records_invalid_total"))
        p._save_ingest(delta)
        return  # only the tracker writes this topic: count it, never stop the partition
    c = CustomerContext.of_pseudonym(p, record.target)
    c.origin = (STREAM_IDENTITY, offset)
    apply_record(c, record)
    if c.touched:
        c.save()
    else:
        p._save_ingest(Delta())


def prune(p: PartitionProcessor, budget: int = 2_000) -> None:
    """Drop acknowledged records from the rows that kept them (a row write each)."""
    stage = p.identity
    durable = stage.durable
    for key in stage.acknowledged_rows(budget):
        row = p.load_row(key)
        identity = row.state.identity if row is not None and row.state is not None else None
        if row is None or identity is None or not identity.out:
            continue  # erased since, or its records dropped with an earlier entry's
        kept = [x for x in identity.out if x.offset > durable.get(x.stream, -1)]
        if len(kept) < len(identity.out):
            before = p.index_info(row.state)
            identity.out = kept
            p.store_row(key, before, row, Delta())


def acknowledge_all(p: PartitionProcessor, sends: Iterable[Send]) -> None:
    """Delivered at once (the reference pipeline): every record of this partition is durable."""
    for send in sends:
        p.identity.acknowledged(send.stream, send.offset)
    p.identity.acknowledged(STREAM_INPUT, p.applied_offset)
    p.identity.acknowledged(STREAM_IDENTITY, p.identity.applied)
    p.identity.acknowledged(STREAM_TIMER, p.identity.timer)


def fail_record(p: PartitionProcessor, offset: int) -> None:
    """A record the logic could not apply (a bug): count it, skip it, go on.

    Nothing of it was stored (rows are written last), so nothing it made may leave.
    """
    p.identity.outbox.clear()
    p.outbox.clear()
    p.identity.applied = p.aggregates.identity_offset = max(p.identity.applied, offset)
    delta = Delta()
    delta.count(counter_key("tracker_identity_records_invalid_total"))
    p._save_ingest(delta)
