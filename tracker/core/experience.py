"""Issue 20's customer-experience rules, wired into the sessionizer in one place. Pure.

Load times (``vitals``), support service levels (``support``), retention and
churn (``retention``), live experiments (``experiments``): what a counted event adds to the customer's state and
open session, what a closed session counts, what falls due as the watermark
moves. The sessionizer calls the functions here; the rules live in those modules.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tracker.core import experiments, retention, support
from tracker.core.aggregates import Delta
from tracker.core.customer import CustomerState, Session
from tracker.core.events import EventView
from tracker.core.support import (
    SessionSupport,
    apply_ticket,
    count_session,
    knows,
    merge_support,
    note_contact,
    note_feedback,
)
from tracker.core.vitals import count_lcp_class, count_vital, first_lcp, note_lcp

DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class ExperienceRules:
    ticket_ms: int = 30 * DAY_MS  # TRACKER_SUPPORT_TICKET_LIFETIME
    lapse: retention.Lapse = field(default_factory=retention.Lapse)  # TRACKER_LAPSE_*
    mde: float = 0.1  # TRACKER_EXPERIMENT_MDE: read at scrape, for the sample size


def seen(state: CustomerState, ev: EventView, delta: Delta) -> None:
    """A counted event of the customer (an agent's is not): new and returning customers."""
    r = state.retention
    if r is None or ev.at_ms < r.first_ms or not r.channels >> ev.channel & 1:
        state.retention = retention.seen(r, ev.at_ms, ev.channel, delta)


def ordered(rules: ExperienceRules, state: CustomerState, ev: EventView, delta: Delta) -> None:
    """A counted order (``seen`` came first): repurchase by first-order channel, lapses."""
    if state.retention is not None:
        retention.ordered(state.retention, ev.at_ms, ev.channel, rules.lapse, delta)


def consented(state: CustomerState, ev: EventView) -> bool:
    """An agent's event counts only for a ticket the state knows: its contact's consent."""
    return ev.ticket is None or not ev.ticket.agent or knows(state.tickets, ev.ticket, ev.at_ms)


def count_event(
    rules: ExperienceRules,
    state: CustomerState,
    ev: EventView,
    touchpoints: tuple[str, ...],
    delta: Delta,
) -> None:
    """What a counted event adds beyond the sessionizer's own counts."""
    if ev.vital is not None:
        count_vital(ev.vital, touchpoints[ev.touchpoint], delta)
    elif ev.ticket is not None:
        apply_ticket(state.tickets, ev.ticket, ev.event_type, ev.at_ms, rules.ticket_ms, delta)


def note_session(session: Session, ev: EventView) -> None:
    """What the open session keeps of an event that joined it."""
    if ev.arm is not None:
        session.experiments = experiments.note(session.experiments, ev.arm, ev.at_ms)
    if ev.vital is not None:
        note_lcp(session, ev.vital, ev.at_ms)
    elif ev.event_type == "order":
        session.last_order_ms = max(session.last_order_ms, ev.at_ms)
    elif ev.ticket is not None:
        note_contact(_support(session), ev.at_ms, ev.ticket.channel)
    elif ev.event_type == "feedback" and (ev.csat is not None or ev.ces is not None):
        note_feedback(_support(session), ev.at_ms, ev.csat, ev.ces)


def count_closed(session: Session, delta: Delta) -> None:
    count_lcp_class(session.lcp, session.orders > 0, session.last_ms, delta)
    count_session(session.support, session.last_order_ms, delta)
    experiments.count_closed(session.experiments, session.orders > 0, delta)


def merge_into(session: Session, kept: Session, incoming: Session) -> None:
    """Two sessions became ``session`` (identity stitching): what they kept, together."""
    session.lcp_ms, session.lcp = first_lcp(kept, incoming)
    session.last_order_ms = max(kept.last_order_ms, incoming.last_order_ms)
    session.support = merge_support(kept.support, incoming.support)
    session.experiments = experiments.merge(kept.experiments, incoming.experiments)


def leave(state: CustomerState, delta: Delta) -> None:
    """The customer's state leaves this partition: an erasure, or a hand-over to a customer."""
    support.leave(state.tickets, delta)
    retention.leave(state.retention, delta)


def join(
    rules: ExperienceRules, state: CustomerState, payload: CustomerState, delta: Delta
) -> None:
    """A linked device's handed-over state joins the customer's (identity stitching)."""
    support.join(state.tickets, payload.tickets, delta)
    state.retention = retention.join(state.retention, payload.retention, rules.lapse, delta)


def counts_while_held(state: CustomerState) -> bool:
    """Whether deleting the state must also stop counting it (``expired``)."""
    return state.retention is not None and state.retention.lapsed_ms >= 0


def expired(state: CustomerState, delta: Delta) -> None:
    """The state is deleted past retention: what counts it as present now stops."""
    retention.expired(state.retention, delta)


def expire_due(state: CustomerState, watermark_ms: int, delta: Delta) -> None:
    """What the watermark passed: tickets past their lifetime, customers who lapsed."""
    if state.tickets:
        support.expire(state.tickets, watermark_ms, delta)
    retention.lapse_due(state.retention, watermark_ms, delta)


def next_due(state: CustomerState) -> int | None:
    """When ``expire_due`` has something to do next (the row index keeps it as a deadline)."""
    due = (support.next_expiry(state.tickets), retention.next_due(state.retention))
    return min((d for d in due if d is not None), default=None)


def _support(session: Session) -> SessionSupport:
    if session.support is None:
        session.support = SessionSupport()
    return session.support
