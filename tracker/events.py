"""The compact, already-validated view of an event that the pure logic works on."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tracker.contract import CHANNELS, Event, Feedback, Interaction, Order, PageView
from tracker.customer import SOURCES
from tracker.labels import LabelSets

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def to_ms(moment: datetime) -> int:
    """Epoch milliseconds of an aware datetime (integer arithmetic: no float rounding)."""
    return (moment - _EPOCH) // _MS


def id_hash(event_id: str) -> int:
    """A 64-bit hash of an event id: state never holds the ids themselves."""
    return int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=8).digest(), "big")


def event_time_ms(occurred_ms: int, sent_ms: int | None, broker_ms: int) -> int:
    """Snowplow-style skew correction: broker time minus the device's send delay."""
    if sent_ms is None:
        return occurred_ms
    return broker_ms - (sent_ms - occurred_ms)


@dataclass(frozen=True, slots=True)
class EventView:
    event_type: str
    id_hash: int
    at_ms: int
    channel: int
    touchpoint: int
    action: str | None = None
    revenue: Decimal | None = None
    currency: str | None = None
    nps: int | None = None
    csat: int | None = None
    ces: int | None = None
    comment: str | None = None
    language: str | None = None
    account: str | None = None
    source: int = 0  # index into customer.SOURCES

    @classmethod
    def build(
        cls, event: Event, broker_ms: int, labels: LabelSets, account: str | None = None
    ) -> EventView:
        sent = to_ms(event.sent_at) if event.sent_at is not None else None
        revenue = currency = action = comment = language = None
        nps = csat = ces = None
        if isinstance(event, Order):
            revenue, currency = event.revenue, labels.currency(event.currency)
        elif isinstance(event, Interaction):
            action = labels.action(event.action)
        elif isinstance(event, Feedback):
            nps, csat, ces = event.nps, event.csat, event.ces
            comment, language = event.comment, event.language
        return cls(
            event.event_type,
            id_hash(event.event_id),
            event_time_ms(to_ms(event.occurred_at), sent, broker_ms),
            CHANNELS.index(event.channel),
            labels.touchpoint_index(event.touchpoint),
            action,
            revenue,
            currency,
            nps,
            csat,
            ces,
            comment,
            language,
            account,
            traffic_source(event),
        )


def traffic_source(event: Event) -> int:
    """Campaign and referrer are attribution data: used only with marketing consent."""
    if not event.consent.marketing:
        return SOURCES.index("unattributed")
    if isinstance(event, PageView) and event.campaign:
        return SOURCES.index("campaign")
    if isinstance(event, PageView) and event.referrer:
        return SOURCES.index("referral")
    return SOURCES.index("direct")
