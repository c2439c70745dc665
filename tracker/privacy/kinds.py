"""Every kind of state the tracker keeps about a person, and how each is erased and shown.

A kind covers fields of the state classes (``Class.field``, or ``Class.*``); a class
held inside a covered field belongs to that field's kind. The coverage test
(``tests/unit/test_privacy_coverage.py``) reads the fields from the code: a field no
kind covers fails it, and so does a kind that an erasure leaves behind (unless a
withdrawal marker keeps it, and PRIVACY.md says why), that ``tracker inspect`` does
not show, or that PRIVACY.md does not name.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StateKind:
    name: str  # as PRIVACY.md names it, in bold, in "What is stored"
    fields: tuple[str, ...]
    inspect: tuple[str, ...]  # keys of `tracker inspect`'s JSON, one of which shows it
    marker_keeps: bool = False  # a withdrawal marker keeps some of it (PRIVACY.md: what)


KINDS: tuple[StateKind, ...] = (
    StateKind(
        "open session",
        ("CustomerState.session",),
        ("open_session",),
    ),
    StateKind(
        "reach presence",
        ("CustomerState.last_seen_ms", "CustomerState.last_seen_by_channel"),
        ("last_seen", "last_seen_by_channel"),
    ),
    StateKind("order history", ("CustomerState.order_times",), ("recent_orders_at",)),
    StateKind(
        "de-duplication memory",
        ("CustomerState.seen_ids", "CustomerState.capped_at_ms"),
        ("remembered_event_ids", "dedup_memory_full_since"),
        marker_keeps=True,  # the hashes of withdrawal ids: a retried withdrawal is a duplicate
    ),
    StateKind(
        "withdrawal marker",
        ("CustomerState.withdrawn_until_ms",),
        ("withdrawal_marker_until",),
        marker_keeps=True,
    ),
    StateKind(
        "account memberships",
        ("CustomerState.accounts", "AccountState.*"),
        ("accounts",),
    ),
    StateKind(
        "dead letters",
        ("CustomerState.letters", "CustomerState.last_letter_ms"),
        ("dead_letters",),
        marker_keeps=True,  # their count: tombstones are sent again after a crash
    ),
    StateKind("support tickets", ("CustomerState.tickets",), ("support_tickets",)),
    StateKind("customer history", ("CustomerState.retention",), ("customer_history",)),
    StateKind(
        "identity links",
        ("CustomerState.identity",),
        ("identity_links", "linked_to", "held_events"),
        marker_keeps=True,  # the bookkeeping of identity records in flight, no link
    ),
)


def kind_of(qualified_field: str) -> StateKind | None:
    """The kind covering ``Class.field``, if any."""
    cls = qualified_field.split(".", 1)[0]
    for kind in KINDS:
        if qualified_field in kind.fields or f"{cls}.*" in kind.fields:
            return kind
    return None
