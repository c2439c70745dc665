"""Support service levels (docs/metrics.md#support): tickets in the customer's state. Pure.

A ticket lives in the state of the customer it is about (the message key), under
a keyed 64-bit hash of its id: state never holds a ticket id. The customer's
``support_contact`` opens it, or reopens it once resolved; the agents'
``support_reply`` and ``support_resolved`` count only for a ticket the state
knows, so they inherit the consent of its contact. A ticket is forgotten
``ExperienceRules.ticket_ms`` (30 days) after its last event, and a customer
keeps at most ``MAX_TICKETS``.
"""

from __future__ import annotations

import base64
import bisect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from tracker.core.aggregates import Delta, counter_key
from tracker.core.codes import SUPPORT_CHANNEL_CODES, CodeTable
from tracker.core.contract import SUPPORT_CHANNELS
from tracker.core.pseudonym import Pseudonymizer

if TYPE_CHECKING:
    from tracker.core.events import EventView

MAX_TICKETS = 20  # per customer: beyond, the one idle longest is forgotten (as if expired)
# Bucket bounds in seconds: a chat is answered in minutes, an e-mail within a day or two.
FIRST_RESPONSE_BUCKETS = (30, 60, 120, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 172800)
RESOLUTION_BUCKETS = (300, 900, 3600, 14400, 28800, 86400, 172800, 259200, 604800, 1209600)
OPEN_KEY = "tracker_support_tickets_open"  # up and down: a gauge summed over partitions
MAX_CONTACTS = MAX_FEEDBACK = 8  # kept per session: the earliest by event time
SUPPORT_TABLE = CodeTable("support channel", SUPPORT_CHANNELS, SUPPORT_CHANNEL_CODES)


class TicketRef(NamedTuple):
    """A support event's ticket: its keyed hash, the support channel, an agent's or not."""

    hash: int
    channel: int  # index into SUPPORT_CHANNELS
    agent: bool


@dataclass(slots=True)
class Ticket:
    channel: int  # the support channel of the contact that opened it
    first_ms: int  # its first contact: the first response is measured from here
    opened_ms: int  # the contact that opened or last reopened it: resolution time from here
    last_ms: int  # its latest event
    expires_ms: int  # last_ms + the ticket lifetime
    replied_ms: int = -1  # its first agent reply
    resolved_ms: int = -1  # resolved at (and not reopened since); -1: open

    @property
    def open(self) -> bool:
        return self.resolved_ms < 0


@dataclass(slots=True)
class SessionSupport:
    """What a session needs for rescued conversions and feedback after a contact."""

    contacts: list[tuple[int, int]] = field(default_factory=list)  # (at_ms, support channel)
    feedback: list[tuple[int, int, int]] = field(default_factory=list)  # (at_ms, csat, ces)


def ticket_hash(pseudonyms: Pseudonymizer, ticket_id: str) -> int:
    """A keyed hash: a sequential ticket number cannot be recovered from it by trying.

    Not memoised: a ticket's few events would fill the customer ids' memo with ids that
    do not come back (in the soak's traffic, most of what the memo grew by).
    """
    digest = pseudonyms.once(f"ticket:{ticket_id}")
    return int.from_bytes(base64.urlsafe_b64decode(digest + "==")[:8], "big")


def knows(tickets: dict[int, Ticket], ref: TicketRef, at_ms: int) -> bool:
    """The ticket is in the state and had not expired at ``at_ms``."""
    ticket = tickets.get(ref.hash)
    return ticket is not None and at_ms <= ticket.expires_ms


def apply_ticket(
    tickets: dict[int, Ticket], ref: TicketRef, kind: str, at_ms: int, life_ms: int, delta: Delta
) -> None:
    """A counted support event (its ticket known, if it is an agent's)."""
    channel = SUPPORT_CHANNELS[ref.channel]
    ticket = tickets.get(ref.hash)
    if ticket is not None and at_ms > ticket.expires_ms:
        _forget(tickets, ref.hash, delta)  # a contact after the lifetime: a new ticket
        ticket = None
    if kind == "support_contact":
        delta.count(counter_key("tracker_support_contacts_total", channel))
        if ticket is None:
            ticket = _open(tickets, ref, at_ms, life_ms, delta)
        elif not ticket.open and at_ms >= ticket.resolved_ms:
            _count(delta, "tracker_support_tickets_reopened_total", ticket.channel, +1)
            ticket.opened_ms, ticket.resolved_ms = at_ms, -1
        elif at_ms < ticket.first_ms:  # an earlier contact arrived late: it opened the ticket
            ticket.first_ms = at_ms
            ticket.opened_ms = min(ticket.opened_ms, at_ms)
    else:
        assert ticket is not None  # ``knows`` held: the caller dropped it otherwise
        channel = SUPPORT_CHANNELS[ticket.channel]
        if kind == "support_reply" and ticket.replied_ms < 0:
            ticket.replied_ms = at_ms
            _observe(
                delta, "tracker_support_first_response_seconds", channel, at_ms - ticket.first_ms
            )
        elif kind == "support_resolved" and ticket.open:
            ticket.resolved_ms = at_ms
            _count(delta, "tracker_support_tickets_resolved_total", ticket.channel, -1)
            _observe(delta, "tracker_support_resolution_seconds", channel, at_ms - ticket.opened_ms)
    ticket.last_ms = max(ticket.last_ms, at_ms)
    ticket.expires_ms = ticket.last_ms + life_ms


def expire(tickets: dict[int, Ticket], until_ms: int, delta: Delta) -> None:
    """Forget the tickets whose lifetime the watermark passed."""
    for key in [k for k, t in tickets.items() if t.expires_ms <= until_ms]:
        _forget(tickets, key, delta)


def next_expiry(tickets: dict[int, Ticket]) -> int | None:
    return min((t.expires_ms for t in tickets.values()), default=None)


def leave(tickets: dict[int, Ticket], delta: Delta) -> None:
    """The tickets leave this partition's open count (an erasure, a hand-over)."""
    for ticket in tickets.values():
        if ticket.open:
            delta.count(counter_key(OPEN_KEY, SUPPORT_CHANNELS[ticket.channel]), -1)


def join(tickets: dict[int, Ticket], incoming: dict[int, Ticket], delta: Delta) -> None:
    """Tickets handed over from a linked device join the customer's (theirs win a clash)."""
    for key, ticket in incoming.items():
        if key not in tickets and len(tickets) < MAX_TICKETS:
            tickets[key] = ticket
            if ticket.open:
                delta.count(counter_key(OPEN_KEY, SUPPORT_CHANNELS[ticket.channel]))


def last_ms(tickets: dict[int, Ticket]) -> int:
    return max((t.last_ms for t in tickets.values()), default=-1)


def _open(
    tickets: dict[int, Ticket], ref: TicketRef, at_ms: int, life_ms: int, delta: Delta
) -> Ticket:
    if len(tickets) >= MAX_TICKETS:
        _forget(tickets, min(tickets, key=lambda k: tickets[k].last_ms), delta)
    ticket = tickets[ref.hash] = Ticket(ref.channel, at_ms, at_ms, at_ms, at_ms + life_ms)
    _count(delta, "tracker_support_tickets_opened_total", ref.channel, +1)
    return ticket


def _forget(tickets: dict[int, Ticket], key: int, delta: Delta) -> None:
    ticket = tickets.pop(key)
    if ticket.open:
        _count(delta, "tracker_support_tickets_expired_total", ticket.channel, -1)


def _count(delta: Delta, metric: str, channel_index: int, open_change: int) -> None:
    """A lifecycle counter, and the open tickets it adds to or takes from."""
    channel = SUPPORT_CHANNELS[channel_index]
    delta.count(counter_key(metric, channel))
    delta.count(counter_key(OPEN_KEY, channel), open_change)


def _observe(delta: Delta, metric: str, channel: str, elapsed_ms: int) -> None:
    """One duration into a histogram: per-bucket counts and the sum in milliseconds."""
    seconds = max(0, elapsed_ms) / 1000  # an agent's clock a little ahead: zero, not negative
    bounds = FIRST_RESPONSE_BUCKETS if "first_response" in metric else RESOLUTION_BUCKETS
    le = next((str(float(b)) for b in bounds if seconds <= b), "+Inf")
    delta.count(counter_key(metric, channel, le))
    delta.count(counter_key(f"{metric}_ms", channel), max(0, elapsed_ms))


# --- sessions ---------------------------------------------------------------------------


def note_contact(support: SessionSupport, at_ms: int, channel: int) -> None:
    _insert(support.contacts, (at_ms, channel), MAX_CONTACTS)


def note_feedback(support: SessionSupport, at_ms: int, csat: int | None, ces: int | None) -> None:
    if csat is not None or ces is not None:
        _insert(
            support.feedback,
            (at_ms, -1 if csat is None else csat, -1 if ces is None else ces),
            MAX_FEEDBACK,
        )


def count_session(support: SessionSupport | None, last_order_ms: int, delta: Delta) -> None:
    """A closed session with a support contact; its orders after it; feedback after one."""
    if support is None or not support.contacts:
        return
    first_ms, first_channel = support.contacts[0]
    channel = SUPPORT_CHANNELS[first_channel]
    delta.count(counter_key("tracker_sessions_with_support_total", channel))
    if last_order_ms >= first_ms:
        delta.count(counter_key("tracker_sessions_rescued_total", channel))
    for at_ms, csat, ces in support.feedback:
        before = [c for c in support.contacts if c[0] <= at_ms]
        if not before:
            continue
        latest = SUPPORT_CHANNELS[before[-1][1]]  # the contact the answer is about
        if csat >= 0:
            delta.count(counter_key("tracker_support_csat_responses_total", str(csat), latest))
        if ces >= 0:
            delta.count(counter_key("tracker_support_ces_responses_total", str(ces), latest))


def merge_support(a: SessionSupport | None, b: SessionSupport | None) -> SessionSupport | None:
    if a is None or b is None:
        return a or b
    merged = SessionSupport(list(a.contacts), list(a.feedback))
    for contact in b.contacts:
        note_contact(merged, *contact)
    for at_ms, csat, ces in b.feedback:
        _insert(merged.feedback, (at_ms, csat, ces), MAX_FEEDBACK)
    return merged


def _insert(items: list[Any], item: tuple[int, ...], cap: int) -> None:
    """Sorted by time, the earliest ``cap`` kept."""
    bisect.insort(items, item)
    del items[cap:]


def encode_ref(ref: TicketRef | None) -> list[Any] | None:
    """A held or forwarded event's ticket: hash, support channel code, an agent's or not."""
    return None if ref is None else [ref.hash, SUPPORT_TABLE.to_code[ref.channel], ref.agent]


def decode_ref(raw: Any) -> TicketRef | None:
    if raw is None:
        return None
    hashed, code, agent = raw
    return TicketRef(int(hashed), SUPPORT_TABLE.position(int(code)), bool(agent))


def describe(tickets: dict[int, Ticket]) -> list[dict[str, Any]]:
    """What an access request shows of the tickets (times as epoch ms; ids only hashed)."""
    return [
        {
            "ticket": f"{key:016x} (a keyed hash of its id)",
            "support_channel": SUPPORT_CHANNELS[t.channel],
            "first_contact": t.first_ms,
            "opened": t.opened_ms,
            "first_reply": t.replied_ms if t.replied_ms >= 0 else None,
            "resolved": t.resolved_ms if t.resolved_ms >= 0 else None,
            "last_event": t.last_ms,
            "forgotten_after": t.expires_ms,
        }
        for key, t in tickets.items()
    ]


# --- rows ---------------------------------------------------------------------------------


def encode_tickets(tickets: dict[int, Ticket]) -> list[list[int]]:
    code = SUPPORT_TABLE.to_code
    return [
        [
            k,
            code[t.channel],
            t.first_ms,
            t.opened_ms,
            t.last_ms,
            t.expires_ms,
            t.replied_ms,
            t.resolved_ms,
        ]
        for k, t in tickets.items()
    ]


def decode_tickets(rows: list[list[int]]) -> dict[int, Ticket]:
    position = SUPPORT_TABLE.position
    return {
        k: Ticket(position(ch), first, opened, last, expires, replied, resolved)
        for k, ch, first, opened, last, expires, replied, resolved in rows
    }


def encode_session(support: SessionSupport | None) -> list[Any] | None:
    if support is None:
        return None
    code = SUPPORT_TABLE.to_code
    return [[[at, code[ch]] for at, ch in support.contacts], [list(f) for f in support.feedback]]


def decode_session(raw: list[Any] | None) -> SessionSupport | None:
    if raw is None:
        return None
    position = SUPPORT_TABLE.position
    contacts, feedback = raw
    return SessionSupport([(at, position(ch)) for at, ch in contacts], [tuple(f) for f in feedback])


def in_time_order(held: list[EventView]) -> list[EventView]:
    """Events held for a hand-over, in event-time order (equal times: in order of arrival),
    except that an agent's event keeps its arrival order with the held contacts of its
    ticket (tracker.core.identity_customer.release).

    Not held, a reply counts exactly when a contact of its ticket arrived first, whatever
    the two clocks say (docs/contract.md#support): an agent's clock, or the sent_at
    correction of a batch, can time it a moment before that contact, or after a contact
    that arrived only later. Ordered by time alone, held, it would count differently.
    So an agent's event goes after the earliest held contact that arrived ahead of it
    and before every one that arrived after it.
    """
    before: dict[int, int] = {}  # ticket hash -> earliest time of a contact arrived so far
    after: dict[int, int] = {}  # ticket hash -> earliest time of a contact arrived later
    later: list[int | None] = [None] * len(held)
    for index in range(len(held) - 1, -1, -1):
        ticket = held[index].ticket
        if ticket is None:
            continue
        if ticket.agent:
            later[index] = after.get(ticket.hash)
        else:
            at = held[index].at_ms
            after[ticket.hash] = min(at, after.get(ticket.hash, at))
    order: list[tuple[int, int]] = []
    for index, ev in enumerate(held):
        at, ticket = ev.at_ms, ev.ticket
        if ticket is not None and ticket.agent:
            ceiling = later[index]
            if ceiling is not None:
                at = min(at, ceiling)  # equal times: the agent's event arrived first
            at = max(at, before.get(ticket.hash, at))  # a contact ahead of it stays ahead
        elif ticket is not None:
            before[ticket.hash] = min(ev.at_ms, before.get(ticket.hash, ev.at_ms))
        order.append((at, index))
    return [held[index] for _, index in sorted(order)]
