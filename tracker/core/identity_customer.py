"""One customer's part of identity stitching, inside ``CustomerContext`` (docs/identity.md).

The known customer's partition sends a claim when an ``identify`` arrives and
holds the customer's next events until the reply lands; the anonymous id's
partition answers the claim, hands its state over and turns its row into a
stub that forwards whatever still arrives under the anonymous id. Every
record made here is written into the sending row (``IdentityState.out``)
with that row, and sent by the wiring only after the row is in the
changelog: a record Kafka received always has its cause in durable state.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from tracker.core.accounts import AccountActivity
from tracker.core.aggregates import counter_key
from tracker.core.contract import CHANNELS
from tracker.core.customer import CustomerState, decode_state, encode_state
from tracker.core.events import EventView, id_hash
from tracker.core.identity import (
    ALREADY,
    CONFLICT,
    LINKED,
    MAX_LINKS,
    NO_CONSENT,
    claim_outcome,
    detach,
    device_session,
    discard,
    merge,
    stub,
    touch_reach,
)
from tracker.core.identity_records import (
    STREAM_TIMER,
    Claim,
    Forward,
    Origin,
    Record,
    Reply,
    Unlink,
    decode_record,
    decode_view,
    encode_record,
    encode_view,
)
from tracker.core.identity_state import CLAIM_AT, PENDING, IdentityState, Link, Outgoing
from tracker.core.identity_state import LINKED as LINK_DONE
from tracker.core.key_partition import partition_of
from tracker.core.support import in_time_order

if TYPE_CHECKING:
    from tracker.core.customer_context import CustomerContext

_NO_ORIGIN = Origin(-1, -1, -1, -1)  # replaced by ``emit``


def intercept(c: CustomerContext, ev: EventView, anonymous_id: str | None) -> bool:
    """Identity's say over an event the customer sent; True: handled here, else apply it."""
    identity = _settled(c, ev.at_ms)
    if identity is not None and identity.linked_to is not None:
        if ev.event_type == "identify":  # links are one level deep
            _count_identify(c, ev.channel, CONFLICT)
        else:
            apart, identity.own_session = device_session(c.p.rules, identity.own_session, ev)
            forward = Forward(_NO_ORIGIN, identity.linked_to, "event")
            if apart:
                ev = ev.with_claim(identity.claim)
            _forward(c, identity, forward, ev)
        return True
    if ev.event_type == "identify" and anonymous_id is not None:
        return _identify(c, ev, anonymous_id)
    if identity is not None and identity.holding():
        wm = c.watermark()
        if wm < identity.hold_until_ms and len(identity.held) < c.p.identity.hold.events:
            identity.held.append(encode_view(c.p.rules, ev))
            c.delta.max_event_ms = max(c.delta.max_event_ms, ev.at_ms)
            c.touched = True
            return True
        release(c)
    return False


def release(c: CustomerContext) -> None:
    """Apply the held events in event-time order (equal times: in order of arrival; an
    agent's event keeps its place beside its ticket's contacts: ``support.in_time_order``)."""
    state = c.state()
    identity = state.identity if state is not None else None
    if identity is None or not identity.holding():
        return
    held, identity.held, identity.hold_until_ms = identity.held, [], -1
    c.touched = True
    labels = c.p.rules.labels
    for ev in in_time_order([decode_view(labels, x) for x in held]):
        c.apply(ev)


def forward_erasure(c: CustomerContext, kind: str, at_ms: int, extra: int | str | None) -> bool:
    """A withdrawal or erasure of a linked anonymous id is the customer's: forward it."""
    identity = _settled(c, at_ms)
    if identity is None or identity.linked_to is None:
        release(c)  # the customer's held events happened before: they count first
        return False
    record = Forward(_NO_ORIGIN, identity.linked_to, kind, at_ms=at_ms)
    if isinstance(extra, int):
        record = replace(record, id_hash=extra)
    elif isinstance(extra, str):
        record = replace(record, reason=extra)
    _forward(c, identity, record, None)
    return True


def after_erasure(c: CustomerContext, erased: CustomerState, marker: CustomerState) -> None:
    """The marker keeps the record bookkeeping; every linked anonymous id is unlinked."""
    identity = erased.identity
    if identity is None:
        return
    marker.identity = identity.after_erasure()
    for link in identity.links:
        record = Unlink(_NO_ORIGIN, link.anon, c.person or "", marker.withdrawn_until_ms)
        _emit(c, marker, link.partition, record)


def apply_record(c: CustomerContext, record: Record) -> None:
    """An identity record for this row, once (the row remembers the origins it applied)."""
    state = c.state()
    origin = record.origin
    source, mark = (origin.partition, origin.stream), (origin.offset, origin.index)
    identity = state.identity if state is not None else None
    if identity is not None and identity.applied.get(source, (-1, -1)) >= mark:
        return  # sent again after a crash: applied before
    if isinstance(record, Claim):
        _claim_or_wait(c, record)
    elif isinstance(record, Reply):
        _reply(c, record)
    elif isinstance(record, Forward):
        _apply_forward(c, record)
    else:
        _unlink(c, record)
    row = c.row()
    state = row.state = row.state or CustomerState()
    identity = state.identity = state.identity or IdentityState()
    identity.applied[source] = mark
    identity.last_ms = max(identity.last_ms, _time_of(record, identity))
    c.touched = True


# --- the customer's side ------------------------------------------------------------------


def _identify(c: CustomerContext, ev: EventView, anonymous_id: str) -> bool:
    p = c.p
    anon = p.pseudonyms.of(anonymous_id)
    if anon == c.person or c.person is None:
        c.apply(ev.without_account())  # itself: counted like a consent grant, no account
        return True
    row = c.row()
    state = row.state = row.state or CustomerState()
    c.touched = True
    seen_at = state.seen_ids.get(ev.id_hash)
    if seen_at is not None and abs(ev.at_ms - seen_at) <= p.rules.dedup_ms:
        c.delta.count(counter_key("tracker_events_dropped_total", "duplicate"))
        return True
    state.seen_ids = {**state.seen_ids, ev.id_hash: ev.at_ms}  # new dict: see _SeenMemo
    c.delta.max_event_ms = max(c.delta.max_event_ms, ev.at_ms)
    identity = state.identity = state.identity or IdentityState()
    claim = id_hash(f"{c.person}/{ev.id_hash}")
    target = partition_of(anonymous_id, p.partitions)
    full = len(identity.links) >= MAX_LINKS
    # The claim waits for the anonymous id's partition to reach this time. A producer's
    # CreateTime far ahead lets an identify pass the future check with a time no watermark
    # ever reaches, and it would never count: it waits at most until the wall clock at
    # receipt plus the future bound, which the idle rule reaches (docs/identity.md).
    at_ms = min(ev.at_ms, (p.last_input_wall_ms or ev.at_ms) + p.timing.max_future_ms)
    if not full:
        identity.links.append(Link(anon, target, claim, PENDING, at_ms))
        hold_until = at_ms + p.identity.hold.ms
        identity.hold_until_ms = max(identity.hold_until_ms, hold_until)
    record = Claim(_NO_ORIGIN, anon, c.person, p.partition, claim, at_ms, ev.channel, full)
    _emit(c, state, target, record)
    return True


def _reply(c: CustomerContext, record: Reply) -> None:
    state = c.state()
    identity = state.identity if state is not None else None
    link = identity.link_for(record.claim) if identity is not None else None
    payload = None
    if record.payload is not None:
        payload = decode_state(record.payload, c.p.rules.labels.touchpoints)
    if state is None or identity is None or link is None or link.status != PENDING:
        if payload is not None:
            discard(payload, c.delta)  # the customer was erased (or re-granted) meanwhile
        return
    if record.outcome != NO_CONSENT:
        touch_reach(state, record.at_ms, record.channel, c.delta)  # the identify counted
    if record.outcome == LINKED:
        if state.session is None and (payload is None or payload.session is None):
            # The customer's next session will be one its own events form (CustomerContext._apart).
            live = {x.claim for x in identity.links}
            identity.alone = [*(claim for claim in identity.alone if claim in live), link.claim]
        elif state.session is None:
            identity.alone = []  # the open session is a device's, brought by this hand-over
        if payload is not None:
            merge(c.p.rules, state, payload, c.delta)
        link.status = LINK_DONE
    elif record.outcome == ALREADY and not any(
        x.anon == link.anon and x.status == LINK_DONE for x in identity.links
    ):
        link.status = LINK_DONE
    else:
        identity.links.remove(link)
    if not identity.pending():
        release(c)


def _apply_forward(c: CustomerContext, record: Forward) -> None:
    if record.kind == "withdrawal":
        c.withdraw_at(record.at_ms, record.id_hash)
    elif record.kind == "erase":
        c.erase(record.reason, record.at_ms)
    elif record.event is not None:
        ev = decode_view(c.p.rules.labels, record.event)
        if c.blocks(ev.event_type):
            c.delta.count(counter_key("tracker_events_dropped_total", "no_consent"))
            c.touched = True
        else:
            c.accept(ev)


# --- the anonymous id's side ----------------------------------------------------------------


def _claim_or_wait(c: CustomerContext, record: Claim) -> None:
    """A claim waits until this partition's watermark reaches its identify's time: the
    anonymous id's own events before the identify (its input may lag behind this topic,
    after a restart) are applied first, as if the claim had come in event-time order."""
    state = c.state()
    identity = state.identity if state is not None else None
    if record.at_ms <= c.p.watermark_ms and (identity is None or not identity.waiting):
        _claim(c, record)
        return
    row = c.row()
    state = row.state = row.state or CustomerState()
    identity = state.identity = state.identity or IdentityState()
    identity.waiting.append(encode_record(record))
    c.touched = True


def _settled(c: CustomerContext, at_ms: int) -> IdentityState | None:
    """The row's identity once the claims waiting for times up to ``at_ms`` are answered:
    an event of the anonymous id comes after the identifies that happened before it."""
    state = c.state()
    identity = state.identity if state is not None else None
    if identity is not None and identity.waiting:
        release_claims(c, at_ms)
        state = c.state()
        identity = state.identity if state is not None else None
    return identity


def release_claims(c: CustomerContext, watermark_ms: int) -> None:
    """Answer the waiting claims whose time the watermark reached, in order of arrival."""
    state = c.state()
    identity = state.identity if state is not None else None
    while identity is not None and identity.waiting:
        if int(identity.waiting[0][CLAIM_AT]) > watermark_ms:
            return
        record = decode_record(identity.waiting.pop(0))
        assert isinstance(record, Claim)
        _claim(c, record)
        state = c.state()
        identity = state.identity if state is not None else None


def _claim(c: CustomerContext, record: Claim) -> None:
    row = c.row()
    state = row.state
    outcome = claim_outcome(state, record.customer, record.full)
    _count_identify(c, record.channel, outcome)
    payload = None
    if outcome == LINKED:
        old = state or CustomerState()
        moved = detach(old, c.delta)
        if c.person is not None:
            for account in old.accounts:  # the customer's events count for them from now on
                activity = AccountActivity(account, c.person, record.at_ms, 0, erase=True)
                c.p.outbox.append(activity)
        if not moved.is_empty() or moved.seen_ids or moved.accounts:
            payload = encode_state(moved, c.p.rules.labels.touchpoints)
        kept = old.identity or IdentityState()
        link = IdentityState(
            linked_to=record.customer,
            linked_partition=record.customer_partition,
            claim=record.claim,
            applied=kept.applied,
            out=kept.out,
            last_ms=record.at_ms,
            waiting=kept.waiting,  # claims after this one: answered in turn
            own_session=None
            if old.session is None
            else (old.session.start_ms, old.session.last_ms),
        )
        row.state = state = stub(old, link)
    reply = Reply(
        _NO_ORIGIN,
        record.customer,
        c.person or "",
        c.p.partition,
        record.claim,
        outcome,
        record.at_ms,
        record.channel,
        payload,
    )
    _emit(c, state or CustomerState(), record.customer_partition, reply)


def _unlink(c: CustomerContext, record: Unlink) -> None:
    state = c.state()
    identity = state.identity if state is not None else None
    if state is None or identity is None or identity.linked_to != record.customer:
        return  # linked to someone else (a conflict) or no longer linked
    marker = CustomerState(withdrawn_until_ms=record.until_ms, identity=identity.after_erasure())
    marker.letters, marker.last_letter_ms = state.letters, state.last_letter_ms
    c.forget_everywhere(state, record.until_ms)
    c.row().state = marker


# --- records ----------------------------------------------------------------------------------


def _count_identify(c: CustomerContext, channel: int, outcome: str) -> None:
    delta = c.delta
    if outcome == NO_CONSENT:
        delta.count(counter_key("tracker_events_dropped_total", "no_consent"))
    else:
        delta.count(counter_key("tracker_events_total", "identify", CHANNELS[channel]))
        if outcome == LINKED:
            delta.count(counter_key("tracker_identity_links_total"))
        elif outcome == CONFLICT:
            delta.count(counter_key("tracker_identity_conflicts_total"))
    c.touched = True


def _forward(
    c: CustomerContext, identity: IdentityState, record: Forward, ev: EventView | None
) -> None:
    if ev is not None:
        record = replace(record, event=encode_view(c.p.rules, ev))
        identity.last_ms = max(identity.last_ms, ev.at_ms)
    c.delta.count(counter_key("tracker_events_forwarded_total"))
    state = c.state()
    assert state is not None
    _emit(c, state, identity.linked_partition, record)


def _emit(c: CustomerContext, state: CustomerState, partition: int, record: Record) -> None:
    """Keep the record in the row (``out``) and queue it for the wiring to send."""
    p = c.p
    stream, offset = c.origin
    if stream == STREAM_TIMER and offset < 0:  # housekeeping: a fresh offset, once per row
        offset = p.identity.next_timer(p.aggregates)
        c.origin = (stream, offset)
    record = replace(record, origin=Origin(p.partition, stream, offset, c.emitted))
    c.emitted += 1
    identity = state.identity = state.identity or IdentityState()
    stage = p.identity
    entry = Outgoing(stage.next_seq(), stream, offset, partition, record.target, [])
    entry.record = encode_record(record)
    identity.out.append(entry)
    stage.queue(entry, c.key)
    c.touched = True


def _time_of(record: Record, identity: IdentityState) -> int:
    if isinstance(record, Claim | Reply):
        return record.at_ms
    if isinstance(record, Forward):
        return record.at_ms if record.event is None else int(record.event[2])
    return identity.last_ms
