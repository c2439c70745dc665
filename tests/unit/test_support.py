"""Support service levels (docs/metrics.md#support), worked by hand.

Times are seconds after T0. A ticket is opened by the customer's ``support_contact``;
``support_reply`` and ``support_resolved`` are the agents' and count only for a
ticket the customer's state knows: they inherit its contact's consent.
"""

from __future__ import annotations

import hashlib
import hmac

import orjson
import pytest
from pydantic import ValidationError

from tests.unit.helpers import DAY, HOUR, MIN, Harness, ev, ms
from tests.unit.identity_cluster import Cluster
from tracker.core.contract import parse_event
from tracker.core.customer import CustomerState, Session, decode_state, encode_state
from tracker.core.events import EventView
from tracker.core.identity_records import decode_view, encode_view
from tracker.core.pseudonym import Pseudonymizer
from tracker.core.support import (
    MAX_TICKETS,
    SessionSupport,
    Ticket,
    TicketRef,
    ticket_hash,
)
from tracker.metrics.samples import Sample, total


def of(samples: list[Sample], metric: str, **labels: str) -> float:
    return total(samples, metric, **labels)


def contact(customer: str, at: float, ticket: str = "T-1", via: str = "chat", **f: object) -> dict:
    channel = {"chat": "web", "phone": "call_center", "email": "email", "social": "social"}[via]
    return ev(
        "support_contact",
        customer,
        at,
        ticket_id=ticket,
        support_channel=via,
        channel=channel,
        touchpoint="support",
        **f,
    )


def agent(kind: str, customer: str, at: float, ticket: str = "T-1", via: str = "chat") -> dict:
    # Helpdesks rarely know the customer's consent: the ticket's counts, whatever this says.
    return ev(
        f"support_{kind}",
        customer,
        at,
        ticket_id=ticket,
        support_channel=via,
        analytics=False,
        touchpoint="support",
    )


# --- contract -------------------------------------------------------------------------------


def test_support_events_carry_a_ticket_and_a_support_channel() -> None:
    event = parse_event(contact("ana", 0, via="phone"))
    assert (event.ticket_id, event.support_channel, event.channel) == (
        "T-1",
        "phone",
        "call_center",
    )
    for bad in ({"support_channel": "fax"}, {"ticket_id": ""}, {"ticket_id": "x" * 65}):
        with pytest.raises(ValidationError):
            parse_event({**contact("ana", 0), **bad})


# --- consent -----------------------------------------------------------------------------------


def test_agent_events_inherit_the_consent_of_their_tickets_contact() -> None:
    h = Harness()
    h.send(contact("ana", 0), agent("reply", "ana", 45))  # the reply claims no consent: counted
    h.send(contact("bob", 0, analytics=False), agent("reply", "bob", 45))  # unconsented ticket
    h.send(agent("reply", "carl", 45))  # a ticket nobody opened
    assert h.total("tracker_events_total", event_type="support_reply") == 1
    assert h.total("tracker_events_dropped_total", reason="no_consent") == 3
    assert h.state("bob") is None and h.state("carl") is None  # nothing kept of them


def test_a_withdrawal_erases_the_tickets_and_their_agents_events_are_dropped() -> None:
    h = Harness()
    h.send(contact("ana", 0))
    assert h.gauge("tracker_support_tickets_open", support_channel="chat") == 1
    h.send(ev("consent", "ana", 60, analytics=False))
    assert h.gauge("tracker_support_tickets_open", support_channel="chat") == 0
    h.send(agent("reply", "ana", 120))
    assert h.total("tracker_events_total", event_type="support_reply") == 0
    assert h.total("tracker_events_dropped_total", reason="no_consent") == 1


def test_agent_events_start_no_session_and_no_reach() -> None:
    h = Harness()
    h.send(contact("ana", 0, via="phone"))
    h.send(agent("reply", "ana", 40 * MIN, via="phone"), agent("resolved", "ana", 50 * MIN))
    state = h.state("ana")
    assert state is not None and state.last_seen_ms == ms(0)  # seen when she called, only
    h.close_all()
    # The phone contact opened a session; the agents 40 and 50 minutes later neither
    # extended it (it lasted 0 s: not engaged) nor opened another.
    assert h.total("tracker_sessions_started_total") == 1
    assert h.total("tracker_sessions_started_total", channel="call_center") == 1
    assert h.total("tracker_sessions_engaged_total") == 0


# --- service levels -------------------------------------------------------------------------------


def test_first_response_resolution_and_reopen_worked_by_hand() -> None:
    h = Harness()
    h.send(contact("ana", 0))  # opened
    h.send(agent("reply", "ana", 45))  # first response: 45 s, in the 60 s bucket
    h.send(agent("reply", "ana", 300))  # a later reply: not a first response
    h.send(agent("resolved", "ana", HOUR))  # resolution: 3600 s, in the 3600 s bucket
    h.send(agent("resolved", "ana", HOUR + 60))  # already resolved: nothing more
    h.send(contact("ana", 2 * HOUR))  # a contact on a resolved ticket: reopened
    assert h.gauge("tracker_support_tickets_open", support_channel="chat") == 1
    h.send(agent("resolved", "ana", 2 * HOUR + 30 * MIN))  # resolution from the reopen: 1800 s
    first = "tracker_support_first_response_seconds"
    assert h.total(f"{first}_count", support_channel="chat") == 1
    assert h.total(f"{first}_sum") == 45
    assert h.total(f"{first}_bucket", le="30.0") == 0
    assert h.total(f"{first}_bucket", le="60.0") == 1
    resolution = "tracker_support_resolution_seconds"
    assert h.total(f"{resolution}_count") == 2
    assert h.total(f"{resolution}_sum") == 3600 + 1800
    assert h.total(f"{resolution}_bucket", le="900.0") == 0
    assert h.total(f"{resolution}_bucket", le="3600.0") == 2
    assert h.total("tracker_support_contacts_total", support_channel="chat") == 2
    assert h.total("tracker_support_tickets_opened_total") == 1
    assert h.total("tracker_support_tickets_reopened_total") == 1
    assert h.total("tracker_support_tickets_resolved_total") == 2
    assert h.gauge("tracker_support_tickets_open", support_channel="chat") == 0


def test_a_ticket_expires_its_lifetime_after_its_last_event() -> None:
    h = Harness(support_ticket_lifetime=2 * DAY)
    h.send(contact("ana", 0, via="email"), agent("reply", "ana", 6 * HOUR, via="email"))
    h.send(ev("page_view", "bob", 2 * DAY))  # the watermark: 2 days minus 10 s, not past
    assert h.gauge("tracker_support_tickets_open", support_channel="email") == 1
    h.send(ev("page_view", "bob", 2 * DAY + 6 * HOUR + 11))  # past 6 h + 2 days
    assert h.gauge("tracker_support_tickets_open", support_channel="email") == 0
    assert h.total("tracker_support_tickets_expired_total", support_channel="email") == 1
    h.send(agent("resolved", "ana", 2 * DAY + 7 * HOUR, via="email"))  # too late: unknown
    assert h.total("tracker_events_dropped_total", reason="no_consent") == 1
    h.send(contact("ana", 3 * DAY, via="email"))  # the same ticket id again: a new ticket
    assert h.total("tracker_support_tickets_opened_total") == 2
    assert h.total("tracker_support_tickets_reopened_total") == 0


def test_a_customer_keeps_at_most_a_bounded_number_of_tickets() -> None:
    h = Harness()
    for n in range(MAX_TICKETS + 1):
        h.send(contact("ana", n, ticket=f"T-{n}"))
    state = h.state("ana")
    assert state is not None and len(state.tickets) == MAX_TICKETS
    # The one idle longest (T-0) was forgotten, unresolved: counted as expired.
    assert h.total("tracker_support_tickets_expired_total") == 1
    assert h.gauge("tracker_support_tickets_open", support_channel="chat") == MAX_TICKETS


# --- sessions -------------------------------------------------------------------------------------


def test_rescued_conversions_and_feedback_after_a_contact() -> None:
    h = Harness()
    # ana: chat, then orders: rescued. bob: orders, then calls: not rescued.
    h.send(ev("page_view", "ana", 0), contact("ana", 60), ev("order", "ana", 600))
    h.send(ev("page_view", "bob", 0), ev("order", "bob", 60), contact("bob", 600, via="phone"))
    # cy: the order arrives before an earlier contact (out of order): rescued all the same.
    h.send(ev("page_view", "cy", 0), ev("order", "cy", 600), contact("cy", 60, via="email"))
    # dora: CSAT 5 before any contact (not about support), chat, phone, then CSAT 2 and CES 6:
    # about the latest contact before it, the phone call.
    h.send(
        ev("feedback", "dora", 10, csat=5),
        contact("dora", 60),
        contact("dora", 120, ticket="T-2", via="phone"),
        ev("feedback", "dora", 180, csat=2, ces=6),
    )
    h.close_all()
    assert h.total("tracker_sessions_with_support_total", support_channel="chat") == 2
    assert h.total("tracker_sessions_with_support_total", support_channel="phone") == 1
    assert h.total("tracker_sessions_with_support_total", support_channel="email") == 1
    assert h.total("tracker_sessions_rescued_total", support_channel="chat") == 1
    assert h.total("tracker_sessions_rescued_total", support_channel="email") == 1
    assert h.total("tracker_sessions_rescued_total") == 2
    csat = "tracker_support_csat_responses_total"
    assert h.total(csat) == 1 and h.total(csat, score="2", support_channel="phone") == 1
    assert h.total("tracker_support_ces_responses_total", score="6", support_channel="phone") == 1
    assert h.total("tracker_csat_responses_total") == 2  # every answer, as always


# --- privacy and state -------------------------------------------------------------------------------


def test_state_holds_a_keyed_hash_never_the_ticket_id() -> None:
    h = Harness()
    h.send(contact("ana", 0, ticket="TICKET-424242"))
    row = orjson.dumps(h.p.customer_row("ana"))
    assert b"TICKET-424242" not in row and b"424242" not in row
    a, b = Pseudonymizer(b"k" * 32), Pseudonymizer(b"j" * 32)
    assert ticket_hash(a, "424242") != ticket_hash(b, "424242")  # guessing needs the key
    assert ticket_hash(a, "424242") == ticket_hash(a, "424242")
    # The keyed hash rows already hold: HMAC-SHA256 of "ticket:ID", its first 64 bits.
    key = b"k" * 32
    digest = hmac.new(key, b"ticket:424242", hashlib.sha256).digest()
    assert ticket_hash(a, "424242") == int.from_bytes(digest[:8], "big")


def test_tickets_do_not_fill_the_memo_of_customer_ids() -> None:
    # A ticket's id comes back a few times at most; memoised, tickets filled most of the
    # memo in the soak's traffic (BENCHMARKS.md) and pushed customers' ids out of it.
    h = Harness()
    for n in range(30):
        h.send(contact("ana", n * MIN, ticket=f"T-{n}"))
        h.send(agent("agent_reply", "ana", n * MIN + 1, ticket=f"T-{n}"))
    memo = h.p.pseudonyms.of.cache_info()
    assert memo.currsize <= 2, memo  # ana (and no ticket)
    assert of(h.samples(), "tracker_support_tickets_opened_total") == 30


def test_tickets_and_session_support_survive_the_row_and_old_rows_decode() -> None:
    ticket = Ticket(channel=2, first_ms=1, opened_ms=5, last_ms=9, expires_ms=99, replied_ms=3)
    session = Session(
        start_ms=1,
        last_ms=9,
        entry_channel=0,
        last_order_ms=8,
        support=SessionSupport([(2, 1)], [(7, 4, -1)]),
    )
    state = CustomerState(session=session, last_seen_ms=9, tickets={42: ticket})
    row = encode_state(state, ("home", "other"))
    back = decode_state(row, ("home", "other"))
    assert back.tickets == {42: ticket}
    assert back.session is not None and back.session.support == session.support
    assert back.session.last_order_ms == 8
    old = decode_state([row[0][:10], *row[1:9]], ("home", "other"))  # before issue 20
    assert old.tickets == {} and old.session is not None and old.session.support is None


def test_a_forwarded_support_event_keeps_its_ticket() -> None:
    h = Harness()
    view = EventView("support_reply", 7, ms(0), 0, 0, ticket=TicketRef(99, 3, True))
    assert decode_view(h.p.rules.labels, encode_view(h.p.rules, view)).ticket == view.ticket


def test_tickets_move_with_a_linked_device_to_its_customer() -> None:
    c = Cluster()
    # A guest chats from their device, then logs in; the agent's reply names the customer.
    c.send(contact("dev-anna", 0))
    c.send(ev("identify", "anna", 60, anonymous_id="dev-anna"))
    c.tick(c.wall_ms + 61_000)  # a quiet minute: the watermark passes the identify
    c.send(agent("reply", "anna", 90), agent("resolved", "anna", 600))
    s = c.samples()
    assert total(s, "tracker_events_dropped_total", reason="no_consent") == 0
    assert total(s, "tracker_support_first_response_seconds_sum") == 90
    assert total(s, "tracker_support_tickets_open") == 0  # summed over the partitions
    assert total(s, "tracker_support_tickets_resolved_total") == 1
