"""Data-subject access: what the tracker holds for one customer, read from the changelog.

The changelog is the durable copy of every worker's state, so this works
without asking the workers, and shows exactly what a restarted worker would
restore.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from tracker.core.contract import CHANNELS, VITAL_RATINGS
from tracker.core.customer import SOURCES, STEP_KINDS, CustomerState
from tracker.core.identity_state import LINKED, decode_identity
from tracker.core.labels import LabelSets
from tracker.core.letters import LETTER_SLOTS
from tracker.core.pseudonym import Pseudonymizer
from tracker.core.rows import row_state
from tracker.core.support import describe as describe_tickets
from tracker.kafka.partitioner import partition_for


def customer_key(customer_id: str, pseudonyms: Pseudonymizer, partitions: int) -> str:
    partition = partition_for(customer_id.encode(), partitions)
    return f"{partition}/c/{pseudonyms.of(customer_id)}"


def linked_rows(raw: bytes | None) -> list[tuple[str, str, str]]:
    """(pseudonym, row key, status) of the anonymous ids linked to this customer's row."""
    body = orjson.loads(raw) if raw is not None else {}
    if body.get("n") is None:
        return []
    identity = decode_identity(body["n"])
    return [
        (x.anon, f"{x.partition}/c/{x.anon}", "linked" if x.status == LINKED else "pending")
        for x in identity.links
    ]


def describe(raw: bytes | None, labels: LabelSets) -> dict[str, Any]:
    if raw is None:
        return {"held": False, "note": "nothing is stored for this customer"}
    body = orjson.loads(raw)
    if body.get("s") is None:
        return {"held": False, "note": "erased; the row awaits deletion"}
    state = row_state(body, labels.touchpoints)
    assert state is not None  # "s" is set
    described = {"held": True, **_state(state, labels)}
    identity = decode_identity(body["n"]) if body.get("n") is not None else None
    if identity is not None and identity.linked_to is not None:
        described["linked_to"] = {
            "pseudonym": identity.linked_to,
            "note": "an anonymous id linked to this customer: its events count there",
        }
    if identity is not None and identity.held:
        described["held_events"] = f"{len(identity.held)} awaiting an identity hand-over"
    return described


def _iso(ms: int) -> str | None:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat() if ms >= 0 else None


def _state(state: CustomerState, labels: LabelSets) -> dict[str, Any]:
    if state.withdrawn:
        return {
            "withdrawal_marker_until": _iso(state.withdrawn_until_ms),
            "note": "analytics consent withdrawn: events are dropped until consent is granted",
            **_kept_by_the_marker(state),
        }
    return {**_held(state, labels), **_pointers(state)}


def _kept_by_the_marker(state: CustomerState) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    if state.seen_ids:
        kept["remembered_event_ids"] = f"{len(state.seen_ids)} withdrawal id hashes"
    if state.letters:
        kept["dead_letters"] = _letters(state)
    if state.identity is not None:
        kept["identity_links"] = "none; the bookkeeping of identity records in flight"
    return kept


def _pointers(state: CustomerState) -> dict[str, Any]:
    """What the row points to elsewhere: accounts, dead letters, linked ids."""
    out: dict[str, Any] = {
        "accounts": [
            {"account": account, "last_event": _iso(at)} for account, at in state.accounts.items()
        ],
    }
    if state.letters:
        out["dead_letters"] = _letters(state)
    if state.identity is not None:
        identity = state.identity
        out["identity_links"] = [
            {
                "anonymous_id": link.anon,
                "status": "linked" if link.status == LINKED else "pending",
                "since": _iso(link.at_ms),
            }
            for link in identity.links
        ]
    return out


def _letters(state: CustomerState) -> dict[str, Any]:
    return {
        "written": state.letters,
        "newest": _iso(state.last_letter_ms),
        "keys": f"<pseudonym>/0..{min(state.letters, LETTER_SLOTS) - 1} of the DLQ",
    }


def _history(state: CustomerState) -> dict[str, Any] | None:
    """First seen, channels, orders: for new, returning and lapsed customers."""
    r = state.retention
    if r is None:
        return None
    return {
        "first_seen": _iso(r.first_ms),
        "first_channel": CHANNELS[r.first_channel],
        "channels": [c for i, c in enumerate(CHANNELS) if r.channels >> i & 1],
        "first_order": _iso(r.first_order_ms),
        "orders_at": [_iso(t) for t in r.orders],
        "lapsed_since": _iso(r.lapsed_ms),
    }


def _held(state: CustomerState, labels: LabelSets) -> dict[str, Any]:
    session = state.session
    return {
        "last_seen": _iso(state.last_seen_ms),
        "last_seen_by_channel": {
            CHANNELS[c]: _iso(t) for c, t in state.last_seen_by_channel.items()
        },
        "recent_orders_at": [_iso(t) for t in state.order_times],
        "remembered_event_ids": f"{len(state.seen_ids)} (as 64-bit hashes, for de-duplication)",
        "dedup_memory_full_since": _iso(state.capped_at_ms),
        "open_session": None
        if session is None
        else {
            "started": _iso(session.start_ms),
            "last_event": _iso(session.last_ms),
            "entry_channel": CHANNELS[session.entry_channel],
            "source": SOURCES[session.source],
            "page_views": session.page_views,
            "interactions": session.interactions,
            "orders": session.orders,
            "journey": [
                {
                    "at": _iso(step.at_ms),
                    "touchpoint": labels.touchpoints[step.touchpoint],
                    "channel": CHANNELS[step.channel],
                    "kind": STEP_KINDS[step.kind],
                }
                for step in session.steps
            ],
            "load_time_rating": VITAL_RATINGS[session.lcp] if session.lcp >= 0 else None,
            "experiments": {
                seen.experiment: {"variant": seen.variant, "first_seen": _iso(seen.at_ms)}
                for seen in session.experiments or ()
            },
        },
        "customer_history": _history(state),
        "support_tickets": [
            {k: _iso(v) if isinstance(v, int) and k != "ticket" else v for k, v in t.items()}
            for t in describe_tickets(state.tickets)
        ],
        "counters": "aggregate counters hold no per-customer data; this customer's closed "
        "sessions are part of them anonymously",
    }
