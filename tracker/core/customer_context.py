"""The message key's customer while one message is applied: load once, change, save once."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tracker.core.accounts import AccountActivity
from tracker.core.aggregates import Delta, counter_key
from tracker.core.customer import CustomerState
from tracker.core.events import EventView, id_hash
from tracker.core.ingest import Withdrawal
from tracker.core.rows import NO_INDEX, Row, parse_time
from tracker.core.sessionizer import Outcome, accept, is_duplicate_withdrawal, withdraw

if TYPE_CHECKING:
    from tracker.core.partition import PartitionProcessor


class CustomerContext:
    """The message key's customer while one message is applied."""

    def __init__(self, processor: PartitionProcessor, customer_id: str | None) -> None:
        self.p = processor
        self.person = processor.pseudonyms.of(customer_id) if customer_id is not None else None
        self.key = processor.customer_key(self.person) if self.person is not None else None
        self.touched = False
        self.delta = Delta()
        self._row: Row | None = None
        self._before = NO_INDEX

    def _ensure(self) -> Row:
        if self._row is None:
            assert self.key is not None
            row = self.p.load_row(self.key)
            if row is None:
                row = Row(None, self.p.epoch, Delta())
            self._row = row
            self._before = self.p.index_info(row.state)
        return self._row

    def blocks(self, event_type: str) -> bool:
        """A withdrawal marker drops everything but a fresh consent grant."""
        if self.key is None:
            return False
        state = self._ensure().state
        return state is not None and state.withdrawn and event_type != "consent"

    def accept(self, ev: EventView) -> None:
        row = self._ensure()
        state = row.state or CustomerState()
        ooo = self.p.timing.max_out_of_order_ms
        wm = max(self.p.watermark_ms, self.delta.max_event_ms - ooo)
        outcome = accept(self.p.rules, state, ev, wm, self.delta)
        assert outcome is not Outcome.NO_CONSENT  # blocks() ran first
        row.state = state
        self.touched = True
        if ev.account is not None and self.person is not None and outcome is not Outcome.DUPLICATE:
            state.account = ev.account
            self.p.outbox.append(
                AccountActivity(
                    ev.account, self.person, ev.at_ms, ev.channel, ev.event_type == "order"
                )
            )

    def withdraw(self, item: Withdrawal, broker_ms: int) -> None:
        row = self._ensure()
        state = row.state or CustomerState()
        at_ms = parse_time(item.occurred_at) or broker_ms
        hashed = id_hash(item.event_id) if item.event_id else None
        self.touched = True
        if hashed is not None and is_duplicate_withdrawal(self.p.rules, state, hashed, at_ms):
            self.delta.count(counter_key("tracker_events_dropped_total", "duplicate"))
            return
        self.delta.count(counter_key("tracker_consent_withdrawals_total"))
        self.delta.max_event_ms = max(self.delta.max_event_ms, at_ms)
        self._forget_in_account(state, at_ms)
        row.state = withdraw(self.p.rules, state, at_ms, "withdrawal", hashed, self.delta)

    def erase(self, reason: str, at_ms: int) -> None:
        row = self._ensure()
        state = row.state or CustomerState()
        if state.session is not None:
            # An operator request erases at once: an open session is discarded, never counted.
            state.session.last_ms = max(state.session.last_ms, at_ms)
        self._forget_in_account(state, at_ms)
        row.state = withdraw(self.p.rules, state, at_ms, reason, None, self.delta)
        self.touched = True

    def _forget_in_account(self, state: CustomerState, at_ms: int) -> None:
        if state.account is not None and self.person is not None:
            self.p.outbox.append(AccountActivity(state.account, self.person, at_ms, 0, erase=True))

    def save(self) -> None:
        if self.key is not None and self._row is not None:
            self.p.store_row(self.key, self._before, self._row, self.delta)
            self.delta = Delta()
