"""One input partition's processing: pure Python, time and storage passed in.

The Faust wiring owns one ``PartitionProcessor`` per actively assigned
partition and hands it every message, a clock tick and a store whose
writes go to the changelog of that same partition. See ``aggregates`` for
why rows carry offsets, epochs and deltas.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from tracker.core import fast_events as fast
from tracker.core.accounts import AccountActivity
from tracker.core.aggregates import COUNTER_ROW, Aggregates, Delta, counter_key
from tracker.core.contract import Identify
from tracker.core.customer import CustomerState
from tracker.core.customer_context import ERASURE_REASONS as ERASURE_REASONS
from tracker.core.customer_context import CustomerContext
from tracker.core.due import close_due, expire
from tracker.core.epoch_writes import EpochWrites
from tracker.core.events import SUPPORT_CLASSES, EventView
from tracker.core.faults import PartitionFault
from tracker.core.histogram import minute_of
from tracker.core.identity_stage import HoldLimits, IdentityStage, process_record, prune
from tracker.core.ingest import (
    Bot,
    DeadLetter,
    Item,
    Limits,
    NoConsent,
    Reject,
    Valid,
    Withdrawal,
    classify,
    decode_key,
)
from tracker.core.letters import unowned_letter_key
from tracker.core.pseudonym import Pseudonymizer
from tracker.core.restore import restore
from tracker.core.row_cache import RowCache
from tracker.core.row_index import RowIndex
from tracker.core.rows import IndexInfo, Row, row_parts, row_state
from tracker.core.sessionizer import Rules
from tracker.core.state_store import DAY_MS, StateStore, end_epoch
from tracker.core.support import ticket_hash

EXPIRY_BATCH = 2_000  # customer rows examined for expiry per tick and partition
LETTER_BUCKET = "dlq:"  # + reason: dead letters written, by minute (tracker_dlq_records)
# Counted for every item: built once, not joined anew (and hashed anew) per event.
_RECEIVED: Final = counter_key("tracker_events_received_total")
_NO_CONSENT: Final = counter_key("tracker_events_dropped_total", "no_consent")
_SUPPORT_TYPES: Final = frozenset({"support_contact", "support_reply", "support_resolved"})
_IDENTIFY: Final = (fast.Identify, Identify)  # msgspec's first (events.SUPPORT_CLASSES)


@dataclass(frozen=True, slots=True)
class Timing:
    max_out_of_order_ms: int = 10_000
    idle_timeout_ms: int = 60_000
    max_future_ms: int = 600_000
    retention_ms: int = 90 * DAY_MS  # longest of the reach windows and the repurchase lookback
    letter_retention_ms: int = 3 * DAY_MS  # the DLQ's: a row's count of letters matters as long


@dataclass(slots=True)
class PartitionProcessor:
    partition: int
    rules: Rules
    store: StateStore
    pseudonyms: Pseudonymizer
    limits: Limits = field(default_factory=Limits)
    timing: Timing = field(default_factory=Timing)
    aggregates: Aggregates = field(default_factory=Aggregates)
    applied_offset: int = -1
    epoch: int = 0
    last_input_wall_ms: int | None = None
    index: RowIndex = field(init=False)  # session ends, active sessions, expiry days
    _pending_delete: set[str] = field(default_factory=set)
    decoded: RowCache = field(default_factory=RowCache)  # rows lent between messages
    written: EpochWrites = field(default_factory=EpochWrites)  # kept without deltas at flush
    # Account activities for the re-keyed B2B stage, drained by the wiring after each message.
    outbox: list[AccountActivity] = field(default_factory=list)
    # DLQ keys of erased customers' letters, to tombstone; drained by the wiring likewise.
    erased_letters: list[str] = field(default_factory=list)
    partitions: int = 1  # of the input topic: identity records go to the other id's partition
    hold: HoldLimits = field(default_factory=HoldLimits)
    identity: IdentityStage = field(init=False)  # the identity topic's partition of this number

    def __post_init__(self) -> None:
        rules = self.rules
        timing = self.timing
        self.index = RowIndex(
            rules.gap_ms, rules.max_session_ms, timing.retention_ms, timing.letter_retention_ms
        )
        self.identity = IdentityStage(self.partition, self.hold)

    # --- keys -----------------------------------------------------------------
    @property
    def _prefix(self) -> str:
        return f"{self.partition}/"

    def customer_key(self, pseudonym: str) -> str:
        return f"{self.partition}/c/{pseudonym}"

    @property
    def _ingest_key(self) -> str:
        return f"{self.partition}/i"

    # --- watermark ------------------------------------------------------------
    @property
    def watermark_ms(self) -> int:
        agg = self.aggregates
        if agg.max_event_ms == 0 and agg.idle_floor_ms == 0:
            return 0
        return max(agg.max_event_ms - self.timing.max_out_of_order_ms, agg.idle_floor_ms)

    # --- recovery ---------------------------------------------------------------
    def recover(self, now_ms: int) -> None:
        """Rebuild from the rows restored from the changelog, then persist a clean epoch."""
        restore(self, now_ms)

    # --- input ------------------------------------------------------------------
    def process(
        self,
        key: bytes | None,
        value: bytes | None,
        offset: int,
        broker_ms: int,
        now_ms: int,
        control: str | None = None,
    ) -> list[DeadLetter]:
        """Apply one input message; returns what goes to the dead-letter topic."""
        self.last_input_wall_ms = now_ms
        if offset <= self.applied_offset:
            # Applied before a crash: its state came back from the changelog, but the account
            # activities it emitted may have been lost with the producer's buffer. Re-emit them;
            # the account stage is idempotent.
            self._reemit_activities(key, value, broker_ms)
            CustomerContext(self, decode_key(key)).resend_tombstones()
            return []
        self.applied_offset = self.aggregates.applied_offset = offset
        self.aggregates.dirty.add(COUNTER_ROW)
        customer_id = decode_key(key)
        customer = CustomerContext(self, customer_id)
        ingest = Delta()
        letters: list[DeadLetter] = []
        if control is not None:
            if not customer.command(control, value, broker_ms):
                ingest.count(counter_key("tracker_control_ignored_total"))
        else:
            for item in classify(customer_id, value, self.limits):
                self._apply_item(customer, ingest, letters, item, offset, broker_ms)
        # Exactly one row carries a message, so a crash never leaves half of it applied; and
        # it is written before anything changes in memory (``store_row``), so an exception
        # up to here leaves no trace of the message: ``fail`` then counts it once.
        try:
            if customer.touched:
                customer.delta.merge(ingest)
                customer.save()
            else:
                self._save_ingest(ingest)
        except PartitionFault as fault:
            fault.letters = letters
            raise
        try:
            self._close_due()
        except Exception as exc:  # not this message's fault: it is applied and stays so
            closing = PartitionFault("closing due sessions", offset)
            closing.letters = letters
            raise closing from exc
        return letters

    def process_identity(self, value: bytes | None, offset: int) -> None:
        """Apply one record of the identity topic's partition of this number."""
        process_record(self, value, offset)
        self._close_due()

    def fail(self, value: bytes | None, offset: int, error: Exception) -> DeadLetter:
        """A message the logic could not handle (a bug): count it, dead-letter it, go on.

        Nothing of it was stored: rows are written only at the end of ``process``.
        """
        self.outbox.clear()
        self.erased_letters.clear()
        self.identity.outbox.clear()
        self.applied_offset = self.aggregates.applied_offset = max(self.applied_offset, offset)
        ingest = Delta()
        ingest.count(counter_key("tracker_events_received_total"))  # the message, as one item
        ingest.count(counter_key("tracker_events_rejected_total", "internal_error"))
        self.count_letter(ingest, "internal_error")
        self._save_ingest(ingest)
        detail = f"{type(error).__name__}: {error}"[:1000]
        # A digest only: whether the message's events were consented was never settled.
        where = (self.partition, offset)
        key = unowned_letter_key(self.partition, offset, 0)
        return DeadLetter.of("internal_error", value or b"", detail, where, key)

    def tick(self, now_ms: int) -> None:
        """Wall-clock housekeeping: the idle rule, due sessions, state expiry."""
        if self.last_input_wall_ms is None and len(self.index.deadlines):
            # No input yet, but rows wait for this partition's watermark: a claim from
            # another partition's identify (docs/identity.md). The idle clock starts now, so
            # a partition no customer's events ever reached still answers it.
            self.last_input_wall_ms = now_ms
        if (
            self.last_input_wall_ms is not None
            and now_ms - self.last_input_wall_ms >= self.timing.idle_timeout_ms
        ):
            floor = now_ms - self.timing.max_out_of_order_ms
            if floor > self.aggregates.idle_floor_ms:
                self.aggregates.idle_floor_ms = floor
                self.aggregates.dirty.add(COUNTER_ROW)
                self._close_due()
        self._expire()
        prune(self)

    def flush(self) -> None:
        """End the epoch: persist changed aggregate rows, then delete what may go; then
        memory keeps the epoch's rows without their deltas, now spent (``epoch_writes``)."""
        rows = self.aggregates.take_dirty_rows(self.epoch)
        end_epoch(self.store, self.partition, rows, self._pending_delete)
        # The epoch moves first: a row held is then never read for the delta of the epoch
        # it is in, even if settling fails halfway.
        self.epoch += 1
        self.written.settle(self.store, self.decoded)

    def customer_row(self, customer_id: str) -> dict[str, Any] | None:
        """What is held for a customer (for access requests), or None."""
        raw = self.store.get(self.customer_key(self.pseudonyms.of(customer_id)))
        if raw is None:
            return None
        body: dict[str, Any] = orjson.loads(raw)
        return body

    # --- internals ----------------------------------------------------------------
    def _apply_item(
        self,
        customer: CustomerContext,
        ingest: Delta,
        letters: list[DeadLetter],
        item: Item,
        offset: int,
        broker_ms: int,
    ) -> None:
        # Every item ends in exactly one outcome (docs/metrics.md#conservation).
        ingest.count(_RECEIVED)
        if isinstance(item, Reject) and not customer.blocks(""):
            customer.reject(ingest, letters, item, (offset, broker_ms))
        elif (
            # A tuple, not ``NoConsent | Reject``: compiled, two type checks; the union was
            # built, and asked through the interpreter, for every item.
            isinstance(item, (NoConsent, Reject))  # a reject of a withdrawn customer: no consent
            or (isinstance(item, Withdrawal) and customer.key is None)
        ):
            ingest.count(_NO_CONSENT)
        elif isinstance(item, Bot):  # before any state (docs/metrics.md#bots)
            ingest.count(counter_key("tracker_events_dropped_total", "bot"))
            ingest.count(counter_key("tracker_bot_events_total", item.rule))
        elif isinstance(item, Withdrawal):
            customer.withdraw(item, broker_ms)
        elif customer.blocks(item.event.event_type):
            ingest.count(_NO_CONSENT)
        else:
            ev = self._view(item, broker_ms)
            if ev.at_ms > broker_ms + self.timing.max_future_ms:
                limit = self.timing.max_future_ms // 1000
                detail = f"event time is more than {limit}s after the broker timestamp"
                reject = Reject("future_timestamp", item.raw(), detail)
                customer.reject(ingest, letters, reject, (offset, broker_ms))
            else:
                # The type's name first: ``isinstance`` against a class of the uncompiled
                # contract goes through its metaclass's (ABCMeta's) check for every event.
                event = item.event
                anonymous_id: str | None = None
                if ev.event_type == "identify" and isinstance(event, _IDENTIFY):
                    anonymous_id = event.anonymous_id
                customer.accept(ev, anonymous_id)

    def _reemit_activities(self, key: bytes | None, value: bytes | None, broker_ms: int) -> None:
        customer_id = decode_key(key)
        if customer_id is None:
            return
        row = self.load_row(self.customer_key(self.pseudonyms.of(customer_id)))
        if row is not None and row.state is not None and row.state.withdrawn:
            return
        for item in classify(customer_id, value, self.limits):
            if isinstance(item, Valid) and item.event.account_id:
                ev = self._view(item, broker_ms)
                if ev.at_ms <= broker_ms + self.timing.max_future_ms:
                    self.outbox.append(self._activity(customer_id, ev))

    def _view(self, item: Valid, broker_ms: int) -> EventView:
        account_id = item.event.account_id
        account = self.pseudonyms.of(f"account:{account_id}") if account_id else None
        event = item.event  # not getattr: a pydantic model's missing attribute costs µs
        ticket = None
        # The type's name first, as in ``_apply_item``: the union of the contract's classes
        # was built and checked, class by class through ABCMeta, for every event.
        if event.event_type in _SUPPORT_TYPES and isinstance(event, SUPPORT_CLASSES):
            ticket = ticket_hash(self.pseudonyms, event.ticket_id)
        return EventView.build(event, broker_ms, self.rules.labels, account, ticket)

    def _activity(self, customer_id: str, ev: EventView) -> AccountActivity:
        assert ev.account is not None
        return AccountActivity(
            ev.account,
            self.pseudonyms.of(customer_id),
            ev.at_ms,
            ev.channel,
            ev.event_type == "order",
        )

    def count_letter(self, delta: Delta, reason: str) -> None:
        """Letters by the wall-clock minute they are written: the clock the DLQ expires by."""
        delta.bucket(f"{LETTER_BUCKET}{reason}", minute_of(self.last_input_wall_ms or 0), 1)

    def _save_ingest(self, delta: Delta) -> None:
        raw = self.store.get(self._ingest_key)
        stored = delta
        if raw is not None:
            body = orjson.loads(raw)
            if int(body["e"]) == self.epoch:
                stored = Delta.from_json(body["d"])
                stored.merge(delta)
        body, _ = row_parts(
            None, self.applied_offset, self.epoch, stored, (), *self.identity.offsets
        )
        self.store.put(self._ingest_key, body)
        try:
            self.aggregates.apply(delta)
        except Exception as exc:  # the row is written: a restart restores it exactly
            raise PartitionFault("applying a written row", self.applied_offset) from exc

    def load_row(self, key: str) -> Row | None:
        raw = self.store.get(key)
        if raw is None:
            return None
        if (kept := self.decoded.take(key, raw)) is not None:
            return kept if kept.epoch == self.epoch else Row(kept.state, kept.epoch, Delta())
        body = orjson.loads(raw)
        epoch = int(body["e"])
        delta = Delta.from_json(body["d"]) if epoch == self.epoch else Delta()
        state = row_state(body, self.rules.labels.touchpoints)
        return Row(state, epoch, delta)

    def store_row(self, key: str, before: IndexInfo, row: Row, new: Delta) -> None:
        """Write the row first, then change memory: a failed encode or put changes nothing."""
        merged = row.delta.copy()  # the epoch's delta so far: copied whole, not entry by entry
        merged.merge(new)
        state = row.state
        if state is None or state.is_empty():
            # Nothing left to keep; the row lives until its delta is in a flushed epoch.
            body, _ = row_parts(
                None, self.applied_offset, self.epoch, merged, (), *self.identity.offsets
            )
            self.store.put(key, body)
            self._pending_delete.add(key)
        else:
            touchpoints = self.rules.labels.touchpoints
            offsets = (self.applied_offset, self.epoch)
            body, cut = row_parts(state, *offsets, merged, touchpoints, *self.identity.offsets)
            self.store.put(key, body)
            self._pending_delete.discard(key)
            self.decoded.keep(key, stored := self.store.get(key), row)  # as written, merged
            self.written.wrote(key, stored, cut)
        row.delta, row.epoch = merged, self.epoch
        try:
            self.aggregates.apply(new)
            self._index(key, before, state)
        except Exception as exc:  # the row is written: a restart restores it exactly
            raise PartitionFault("applying a written row", self.applied_offset) from exc

    def index_info(self, state: CustomerState | None) -> IndexInfo:
        return self.index.info(state)

    def _index(self, key: str, before: IndexInfo, after_state: CustomerState | None) -> None:
        self.index.move(key, before, self.index.info(after_state))

    @property
    def active_sessions(self) -> dict[int, int]:
        return self.index.active_sessions

    @property
    def held_events(self) -> int:
        return self.index.held_events

    def _close_due(self) -> None:
        close_due(self)

    def _expire(self) -> None:
        expire(self, EXPIRY_BATCH)
