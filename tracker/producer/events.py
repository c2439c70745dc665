"""Typed events for a backend: the contract's own pydantic models, with ids and times filled.

A backend knows what happened (an order of 42.50 EUR by customer c-17 in the Berlin
store); the contract also wants a schema version, a unique event id and an event
time. ``new_event`` fills those, and the model validates the rest at once, so a
mistake is an exception in the shop's code, not a dead letter found days later.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from tracker.core.contract import (
    EVENT_ADAPTER,
    Consent,
    ConsentChange,
    Event,
    Feedback,
    Identify,
    Interaction,
    Order,
    PagePing,
    PageView,
)

__all__ = [
    "Consent",
    "ConsentChange",
    "Event",
    "Feedback",
    "Identify",
    "Interaction",
    "Order",
    "PagePing",
    "PageView",
    "new_event",
]


def new_event(event_type: str, *, at: datetime | None = None, **fields: Any) -> Event:
    """A validated event: ``schema_version`` 1, a random ``event_id`` and ``occurred_at``
    ``at`` (default: now, UTC) unless given; raises pydantic.ValidationError.

    Keep the event and send it again to retry: its id makes a retry count once.
    """
    moment = at if at is not None else datetime.now(UTC)
    data = {
        "schema_version": 1,
        "event_id": str(uuid.uuid4()),
        "occurred_at": moment,
        "event_type": event_type,
        **fields,
    }
    event: Event = EVENT_ADAPTER.validate_python(data)
    return event
