"""Identity stitching's per-customer rules (docs/identity.md): pure, time passed in.

Like the sessionizer, every function takes customer state and writes what it
changed in the partition aggregates into a ``Delta``. The anonymous id's
partition *detaches* its state (it leaves that partition's windows); the
customer's partition *merges* it (it enters them there), so a person counts
once in every window, summed over partitions.
"""

from __future__ import annotations

import bisect
from dataclasses import replace

from tracker.core import experience as cx
from tracker.core.aggregates import Delta, counter_key
from tracker.core.contract import CHANNELS
from tracker.core.customer import MAX_STEPS, CustomerState, Session
from tracker.core.events import EventView
from tracker.core.histogram import minute_of
from tracker.core.identity_state import IdentityState
from tracker.core.sessionizer import NEVER_STARTS, NO_SESSION, Rules, close_session

# Anonymous ids one customer may link (pending or linked): a bound on the row. A further
# identify is a conflict (docs/identity.md#conflicts).
MAX_LINKS = 64
CONFLICT = "conflict"
NO_CONSENT = "no_consent"
ALREADY = "already"
LINKED = "linked"


def claim_outcome(state: CustomerState | None, customer: str, full: bool) -> str:
    """What a claim of ``customer`` on the anonymous id whose state this is comes to."""
    if state is None:
        return CONFLICT if full else LINKED
    if state.withdrawn:
        return NO_CONSENT
    identity = state.identity
    if identity is not None:
        if identity.linked_to is not None:
            return ALREADY if identity.linked_to == customer else CONFLICT
        if identity.links:
            return CONFLICT  # itself a customer others link to: links are one level deep
    return CONFLICT if full else LINKED


def leave_windows(state: CustomerState, delta: Delta) -> None:
    """The customer leaves the reach and repurchase windows of this partition."""
    if state.last_seen_ms >= 0:
        delta.bucket("reach:all", minute_of(state.last_seen_ms), -1)
    for channel, seen in state.last_seen_by_channel.items():
        delta.bucket(f"reach:{CHANNELS[channel]}", minute_of(seen), -1)
    for rank, when in enumerate(state.order_times[:2], start=1):
        delta.bucket(f"rep:{rank}", minute_of(when), -1)
    cx.leave(state, delta)  # open support tickets, new and lapsed customers


def detach(state: CustomerState, delta: Delta) -> CustomerState:
    """The state that moves to the customer; it leaves this partition's windows.

    Its open session leaves this partition's active sessions with the row (the
    index follows the row). Dead-letter bookkeeping stays with the anonymous id.
    """
    leave_windows(state, delta)
    payload = replace(state, identity=None, withdrawn_until_ms=-1)
    payload.seen_ids = dict(state.seen_ids)
    return payload


def stub(state: CustomerState, identity: IdentityState) -> CustomerState:
    """What the anonymous id's row keeps once linked: the link and its bookkeeping."""
    kept = CustomerState(identity=identity)
    kept.letters, kept.last_letter_ms = state.letters, state.last_letter_ms
    return kept


def merge(rules: Rules, state: CustomerState, payload: CustomerState, delta: Delta) -> None:
    """Fold a handed-over state into the customer's (docs/identity.md#what-moves)."""
    _merge_reach(state, payload, delta)
    _merge_orders(state, payload, delta)
    cx.join(rules.experience, state, payload, delta)
    seen = dict(state.seen_ids)  # a new dict: the sessionizer memoizes by identity
    for hashed, at_ms in payload.seen_ids.items():
        if at_ms > seen.get(hashed, -1):
            seen[hashed] = at_ms
    if len(seen) > 16:
        horizon = max(seen.values()) - rules.dedup_ms
        seen = {h: t for h, t in seen.items() if t >= horizon}
    state.seen_ids = seen
    for account, at_ms in payload.accounts.items():
        state.accounts[account] = max(state.accounts.get(account, at_ms), at_ms)
    if payload.session is not None:
        fold_session(rules, state, payload.session, delta)


def fold_session(rules: Rules, state: CustomerState, incoming: Session, delta: Delta) -> None:
    """The customer's open session and one of a device's become one, or the older closes."""
    kept = state.session
    if kept is None:
        state.session = incoming  # the common case: browsing went on after login
    elif _within_gap(rules, kept, incoming):
        state.session = merge_sessions(kept, incoming, delta)
    else:
        # Far apart: the one that ended first is over; it closes here, the other goes on.
        older, newer = sorted((kept, incoming), key=lambda s: (s.last_ms, s is incoming))
        state.session = older
        close_session(rules, state, delta)
        state.session = newer


def device_session(
    rules: Rules, own: tuple[int, int] | None, ev: EventView
) -> tuple[bool, tuple[int, int] | None]:
    """Whether an event a linked device forwards falls outside the device's own session,
    and that session's (start, last) after it.

    Outside, it starts a session of the device's own that merges into the customer's
    (``CustomerContext.apply``), as it would have had it reached the device's partition
    before the claim: so the count of sessions started and merged does not depend on
    which of two partitions Kafka delivered first (docs/identity.md#exactness). The
    bounds are those of ``sessionizer.sessionize``.
    """
    if ev.event_type in NO_SESSION or (ev.ticket is not None and ev.ticket.agent):
        return False, own
    at = ev.at_ms
    if own is not None:
        start, last = own
        if at > last + rules.gap_ms or at >= start + rules.max_session_ms:
            own = None  # that session had ended: this event is after it
        elif at < start - rules.gap_ms:
            return False, own  # before it: the customer's session decides whether it is late
        else:
            return False, (min(start, at), max(last, at))
    if ev.event_type in NEVER_STARTS:
        return True, None  # a ping or vital of no open session of the device measures none
    return True, (at, at)


def discard(payload: CustomerState, delta: Delta) -> None:
    """A hand-over that lands on an erased customer: its open session is discarded."""
    if payload.session is not None:
        entry = CHANNELS[payload.session.entry_channel]
        delta.count(counter_key("tracker_sessions_discarded_total", entry))


def merge_sessions(kept: Session, incoming: Session, delta: Delta) -> Session:
    """One session of two: the earlier-starting survives and the other counts as merged.

    At equal starts the handed-over session is the one merged.
    """
    first, second = (incoming, kept) if incoming.start_ms < kept.start_ms else (kept, incoming)
    delta.count(counter_key("tracker_sessions_merged_total", CHANNELS[second.entry_channel]))
    steps = list(kept.steps)
    for step in incoming.steps:
        # After steps of equal time: the kept session's come first, as if it arrived first.
        bisect.insort_right(steps, step, key=lambda s: s.at_ms)
    session = Session(
        start_ms=first.start_ms,
        last_ms=max(kept.last_ms, incoming.last_ms),
        entry_channel=first.entry_channel,
        page_views=kept.page_views + incoming.page_views,
        interactions=kept.interactions + incoming.interactions,
        orders=kept.orders + incoming.orders,
        channels=kept.channels | incoming.channels,
        steps=steps[:MAX_STEPS],
        source=first.source,
    )
    cx.merge_into(session, kept, incoming)
    return session


def touch_reach(state: CustomerState, at_ms: int, channel: int, delta: Delta) -> None:
    """The customer was there at ``at_ms`` on ``channel`` (an identify that counted)."""
    seen = CustomerState(last_seen_ms=at_ms, last_seen_by_channel={channel: at_ms})
    _merge_reach(state, seen, delta)


def _within_gap(rules: Rules, a: Session, b: Session) -> bool:
    """Each starts no more than the gap after the other's last event, within the longest."""
    start, last = min(a.start_ms, b.start_ms), max(a.last_ms, b.last_ms)
    return (
        a.start_ms <= b.last_ms + rules.gap_ms
        and b.start_ms <= a.last_ms + rules.gap_ms
        and last < start + rules.max_session_ms
    )


def _merge_reach(state: CustomerState, payload: CustomerState, delta: Delta) -> None:
    if payload.last_seen_ms > state.last_seen_ms:
        if state.last_seen_ms >= 0:
            delta.bucket("reach:all", minute_of(state.last_seen_ms), -1)
        delta.bucket("reach:all", minute_of(payload.last_seen_ms), 1)
        state.last_seen_ms = payload.last_seen_ms
    by_channel = state.last_seen_by_channel
    for channel, seen in payload.last_seen_by_channel.items():
        previous = by_channel.get(channel, -1)
        if seen > previous:
            name = f"reach:{CHANNELS[channel]}"
            if previous >= 0:
                delta.bucket(name, minute_of(previous), -1)
            delta.bucket(name, minute_of(seen), 1)
            by_channel[channel] = seen


def _merge_orders(state: CustomerState, payload: CustomerState, delta: Delta) -> None:
    """Newest two orders of both: a guest order, then one as a customer, is a repurchase."""
    before = state.order_times[:2]
    after = sorted([*before, *payload.order_times[:2]], reverse=True)[:2]
    for rank in (1, 2):
        old = before[rank - 1] if len(before) >= rank else None
        new = after[rank - 1] if len(after) >= rank else None
        if old != new:
            if old is not None:
                delta.bucket(f"rep:{rank}", minute_of(old), -1)
            if new is not None:
                delta.bucket(f"rep:{rank}", minute_of(new), 1)
    state.order_times = after
