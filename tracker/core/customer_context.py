"""The message key's customer while one message is applied: load once, change, save once."""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from tracker.core.accounts import MAX_ACCOUNTS_PER_PERSON, AccountActivity
from tracker.core.aggregates import Delta, counter_key
from tracker.core.customer import CustomerState, Session
from tracker.core.events import EventView, id_hash
from tracker.core.identity import fold_session
from tracker.core.identity_customer import after_erasure, forward_erasure, intercept
from tracker.core.identity_orphans import adopt_orphans, keep_if_orphaned
from tracker.core.identity_records import STREAM_INPUT, STREAM_TIMER
from tracker.core.ingest import Reject, Withdrawal
from tracker.core.letters import (
    DeadLetter,
    customer_letter_key,
    customer_letter_keys,
    unowned_letter_key,
)
from tracker.core.rows import NO_INDEX, IndexInfo, Row, parse_time
from tracker.core.sessionizer import (
    NEVER_STARTS,
    Outcome,
    accept,
    is_duplicate_withdrawal,
    withdraw,
)

if TYPE_CHECKING:
    from tracker.core.partition import PartitionProcessor


ERASURE_REASONS = ("withdrawal", "request")


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
        # Identity records this message makes: their origin (stream, offset) and count.
        self.origin = (STREAM_INPUT, processor.applied_offset)
        self.emitted = 0

    @classmethod
    def of_pseudonym(cls, processor: PartitionProcessor, person: str) -> CustomerContext:
        """The row an identity record names (records carry pseudonyms, never ids)."""
        context = cls(processor, None)
        context.person, context.key = person, processor.customer_key(person)
        return context

    @classmethod
    def of_row(
        cls, processor: PartitionProcessor, key: str, row: Row, before: IndexInfo
    ) -> CustomerContext:
        """A row housekeeping already loaded (its index entry as ``before``)."""
        context = cls(processor, None)
        context.key, context.person = key, key.rsplit("/", 1)[-1]
        context._row, context._before = row, before
        context.origin = (STREAM_TIMER, -1)  # what it sends gets a housekeeping origin
        return context

    def _ensure(self) -> Row:
        if self._row is None:
            assert self.key is not None
            row = self.p.load_row(self.key)
            if row is None:
                row = Row(None, self.p.epoch, Delta())
            self._row = row
            self._before = self.p.index_info(row.state)
        return self._row

    def row(self) -> Row:
        return self._ensure()

    def state(self) -> CustomerState | None:
        return self._ensure().state if self.key is not None else None

    def watermark(self) -> int:
        """The partition's watermark, moved by the events of this message applied so far."""
        ooo = self.p.timing.max_out_of_order_ms
        return max(self.p.watermark_ms, self.delta.max_event_ms - ooo)

    def blocks(self, event_type: str) -> bool:
        """A withdrawal marker drops everything but a fresh consent grant."""
        if self.key is None:
            return False
        state = self._ensure().state
        return state is not None and state.withdrawn and event_type != "consent"

    def accept(self, ev: EventView, anonymous_id: str | None = None) -> None:
        """A counted-candidate event of this customer (``anonymous_id``: an identify's)."""
        if self.key is not None and intercept(self, ev, anonymous_id):
            return  # forwarded to the linked customer, held back, or an identify's claim
        self.apply(ev)

    def apply(self, ev: EventView) -> None:
        row = self._ensure()
        state = row.state or CustomerState()
        if ev.apart_claim >= 0:
            outcome = self._apart(state, ev)
        else:
            outcome = accept(self.p.rules, state, ev, self.watermark(), self.delta)
            if outcome is Outcome.COUNTED and state.identity is not None:
                keep_if_orphaned(self.p.rules, state, ev, self._floor())
        # blocks() ran first; only an agent's event about an unknown ticket has none (counted)
        assert outcome is not Outcome.NO_CONSENT or ev.ticket is not None
        row.state = state
        self.touched = True
        if ev.account is not None and self.person is not None and outcome is not Outcome.DUPLICATE:
            self._join_account(state, ev.account, ev.at_ms)
            self.p.outbox.append(
                AccountActivity(
                    ev.account, self.person, ev.at_ms, ev.channel, ev.event_type == "order"
                )
            )

    def _apart(self, state: CustomerState, ev: EventView) -> Outcome:
        """A linked device's event outside the device's own session: it opens a session of
        the device's own, which then merges as a hand-over does (docs/identity.md#exactness).

        Unless the customer had no open session when the hand-over landed and the open one
        is the session that followed it: had the device's event reached its partition
        before the claim, the hand-over would have brought its session and the customer's
        events would have joined it, so the event joins theirs. A ping or vital never
        joins: the device had no session for it to measure.
        """
        rules = self.p.rules
        kept = state.session
        page = ev.event_type not in NEVER_STARTS
        if page and kept is not None and self._followed_alone(state, kept, ev.apart_claim):
            outcome = accept(rules, state, ev, self.watermark(), self.delta)
        else:
            state.session = None
            try:
                outcome = accept(rules, state, ev, self.watermark(), self.delta)
            finally:
                own, state.session = _session_of(state), kept
            if own is not None:
                fold_session(rules, state, own, self.delta)
        session = state.session
        if page and session is not None and session.start_ms <= ev.at_ms <= session.last_ms:
            # The page is in this session: the pings and vitals kept for it come along.
            adopt_orphans(rules, state, self._floor(), self.delta)
        return outcome

    def _followed_alone(self, state: CustomerState, session: Session, claim: int) -> bool:
        """Whether ``session`` is the one that followed a hand-over which found none open:
        it began within the gap of that link's identify."""
        identity = state.identity
        if identity is None or claim not in identity.alone:
            return False
        link = identity.link_for(claim)
        return link is not None and abs(session.start_ms - link.at_ms) <= self.p.rules.gap_ms

    def _floor(self) -> int:
        """No page older than this can still start or join a session (the late rule)."""
        return self.watermark() - self.p.rules.gap_ms

    def _join_account(self, state: CustomerState, account: str, at_ms: int) -> None:
        accounts = state.accounts
        accounts[account] = max(accounts.get(account, at_ms), at_ms)
        if len(accounts) > MAX_ACCOUNTS_PER_PERSON and self.person is not None:
            oldest = min(accounts, key=accounts.__getitem__)
            del accounts[oldest]  # and that account forgets them: the row no longer could
            self.p.outbox.append(AccountActivity(oldest, self.person, at_ms, 0, erase=True))

    def reject(
        self,
        ingest: Delta,
        letters: list[DeadLetter],
        item: Reject,
        at: tuple[int, int],  # the message's offset and broker time
    ) -> None:
        offset, broker_ms = at
        ingest.count(counter_key("tracker_events_rejected_total", item.reason))
        self.p.count_letter(ingest, item.reason)
        key = self._letter_key(offset, len(letters), broker_ms)
        where = (self.p.partition, offset)
        letter = DeadLetter.of(item.reason, item.raw, item.detail, where, key, item.rule, broker_ms)
        letters.append(letter)

    def _letter_key(self, offset: int, index: int, broker_ms: int) -> str:
        """The DLQ key of a letter of this message; the customer's row counts it."""
        if self.key is None or self.person is None:
            return unowned_letter_key(self.p.partition, offset, index)
        row = self._ensure()
        state = row.state = row.state or CustomerState()
        key = customer_letter_key(self.person, state.letters)
        state.letters += 1
        state.last_letter_ms = max(state.last_letter_ms, broker_ms)
        self.touched = True
        return key

    def withdraw(self, item: Withdrawal, broker_ms: int) -> None:
        at_ms = parse_time(item.occurred_at) or broker_ms
        self.withdraw_at(at_ms, id_hash(item.event_id) if item.event_id else None)

    def withdraw_at(self, at_ms: int, hashed: int | None) -> None:
        self.touched = True
        if forward_erasure(self, "withdrawal", at_ms, hashed):
            return  # a linked anonymous id's withdrawal is its customer's
        row = self._ensure()
        state = row.state or CustomerState()
        if hashed is not None and is_duplicate_withdrawal(self.p.rules, state, hashed, at_ms):
            self.delta.count(counter_key("tracker_events_dropped_total", "duplicate"))
            return
        self.delta.count(counter_key("tracker_consent_withdrawals_total"))
        self.delta.max_event_ms = max(self.delta.max_event_ms, at_ms)
        self.forget_everywhere(state, at_ms)
        marker = withdraw(self.p.rules, state, at_ms, "withdrawal", hashed, self.delta)
        after_erasure(self, state, marker)
        row.state = _marker(state, marker)

    def command(self, control: str, value: bytes | None, broker_ms: int) -> bool:
        """Apply a control record (``erase``); False: not understood, ignored."""
        if control != "erase" or self.key is None:
            return False
        try:
            reason = str(orjson.loads(value or b"{}").get("reason", "request"))
        except (orjson.JSONDecodeError, AttributeError):
            reason = "request"
        self.erase(reason if reason in ERASURE_REASONS else "request", broker_ms)
        return True

    def erase(self, reason: str, at_ms: int) -> None:
        self.touched = True
        if forward_erasure(self, "erase", at_ms, reason):
            return  # erasing a linked anonymous id erases its customer
        row = self._ensure()
        state = row.state or CustomerState()
        if state.session is not None:
            # An operator request erases at once: an open session is discarded, never counted.
            state.session.last_ms = max(state.session.last_ms, at_ms)
        self.forget_everywhere(state, at_ms)
        marker = withdraw(self.p.rules, state, at_ms, reason, None, self.delta)
        after_erasure(self, state, marker)
        row.state = _marker(state, marker)

    def forget_everywhere(self, state: CustomerState, at_ms: int) -> None:
        """What the row holds is erased by ``withdraw``; what it points to, here."""
        if self.person is None:
            return
        for account in state.accounts:
            self.p.outbox.append(AccountActivity(account, self.person, at_ms, 0, erase=True))
        self.p.erased_letters.extend(customer_letter_keys(self.person, state.letters))

    def resend_tombstones(self) -> None:
        """A re-delivered message of an erased customer: the tombstones may have been lost."""
        if self.key is None or self.person is None:
            return
        state = self._ensure().state
        if state is not None and state.withdrawn:
            self.p.erased_letters.extend(customer_letter_keys(self.person, state.letters))

    def save(self) -> None:
        if self.key is not None and self._row is not None:
            self.p.store_row(self.key, self._before, self._row, self.delta)
            self.delta = Delta()


def _session_of(state: CustomerState) -> Session | None:
    """``state.session`` as it is now: mypy keeps it narrowed to None across the ``accept``
    that opened one, and compiled code (mypyc) would check the value against that."""
    return state.session


def _marker(erased: CustomerState, marker: CustomerState) -> CustomerState:
    """The marker keeps the dead-letter count: tombstones are re-sent, slots go on."""
    marker.letters, marker.last_letter_ms = erased.letters, erased.last_letter_ms
    return marker
