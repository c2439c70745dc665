"""Pings and vitals of a linked customer that found no open session, kept for a late page.

A linked device's page can reach the customer's partition after the customer's own
pings and vitals of the same visit (its partition lagged behind, docs/identity.md#exactness).
Had the page reached the device's partition before the claim, the hand-over would have
brought its session and the pings and vitals would have joined it (its LCP, its length).
Applied first, they found no session; so they are kept, as encoded events, and join the
session such a page forms or joins, if within its reach (``CustomerContext._apart``).
Counted once either way: only their session part waits.
"""

from __future__ import annotations

from tracker.core.aggregates import Delta
from tracker.core.customer import CustomerState
from tracker.core.events import EventView
from tracker.core.identity_records import decode_view, encode_view
from tracker.core.identity_state import LINKED
from tracker.core.sessionizer import NEVER_STARTS, Rules, sessionize

MAX_ORPHANS = 8  # a bound on the row; the newest are kept


def keep_if_orphaned(rules: Rules, state: CustomerState, ev: EventView, floor_ms: int) -> None:
    """After a counted event: keep a linked customer's ping or vital that joined no session.

    ``floor_ms``: no page older than it can still form a session (the watermark minus the gap).
    """
    identity = state.identity
    if ev.event_type not in NEVER_STARTS or identity is None or ev.at_ms < floor_ms:
        return
    if not any(link.status == LINKED for link in identity.links):
        return
    session = state.session
    if session is not None and session.start_ms <= ev.at_ms <= session.last_ms:
        return  # it joined the open session
    kept = [x for x in identity.orphans if int(x[2]) >= floor_ms]
    kept.append(encode_view(rules, ev))
    identity.orphans = kept[-MAX_ORPHANS:]


def adopt_orphans(rules: Rules, state: CustomerState, floor_ms: int, delta: Delta) -> None:
    """Kept pings and vitals within the open session's reach join it, in event-time order."""
    identity = state.identity
    session = state.session
    if identity is None or not identity.orphans or session is None:
        return
    left = []
    views = [(decode_view(rules.labels, x), x) for x in identity.orphans]
    # In event-time order (equal times: as kept): each one may move the session's start.
    for ev, raw in sorted(views, key=lambda pair: pair[0].at_ms):
        # The sessionizer's reach: up to the gap before the start (it then becomes the start).
        if session.start_ms - rules.gap_ms <= ev.at_ms <= session.last_ms + rules.gap_ms:
            sessionize(rules, state, ev, delta)
        elif ev.at_ms >= floor_ms:
            left.append(raw)
    identity.orphans = left
