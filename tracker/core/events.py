"""The compact, already-validated view of an event that the pure logic works on.

Built once per event on the hot path: a plain class, compiled to a native one (see
``EventView``), with the label and channel lookups done through small dictionaries
instead of tuple scans.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Final, NamedTuple, final

from tracker.core import fast_events as fast
from tracker.core.contract import (
    AGENT_EVENT_TYPES,
    CHANNELS,
    SUPPORT_CHANNELS,
    VITAL_NAMES,
    Feedback,
    Interaction,
    Order,
    PageView,
    SupportContact,
    SupportReply,
    SupportResolved,
    WebVital,
)
from tracker.core.customer import SOURCES
from tracker.core.experiments import Pair
from tracker.core.labels import LabelSets
from tracker.core.support import TicketRef
from tracker.core.timestamps import to_ms
from tracker.core.vitals import Vital

# ``Final``, all read per event: compiled, each is a C static (or the literal itself),
# where a plain module global is a lookup by name in the module's dict.
_CHANNEL_INDEX: Final = {channel: index for index, channel in enumerate(CHANNELS)}
_VITAL_INDEX: Final = {name: index for index, name in enumerate(VITAL_NAMES)}
_SUPPORT_INDEX: Final = {name: index for index, name in enumerate(SUPPORT_CHANNELS)}
_SUPPORT_TYPES: Final = frozenset({"support_contact", "support_reply", "support_resolved"})
# Each event type's classes, msgspec's first: an event of that class matches at once, where
# pydantic's class is asked through ABCMeta's check (``fast_events``).
_INTERACTION: Final = (fast.Interaction, Interaction)
_FEEDBACK: Final = (fast.Feedback, Feedback)
_WEB_VITAL: Final = (fast.WebVital, WebVital)
_PAGE_VIEW: Final = (fast.PageView, PageView)
SUPPORT_CLASSES: Final = (
    fast.SupportContact,
    fast.SupportReply,
    fast.SupportResolved,
    SupportContact,
    SupportReply,
    SupportResolved,
)
_UNATTRIBUTED: Final = SOURCES.index("unattributed")
_DIRECT: Final = SOURCES.index("direct")
_REFERRAL: Final = SOURCES.index("referral")
_CAMPAIGN: Final = SOURCES.index("campaign")
# Touchpoint label index by raw touchpoint, for the LabelSets it was computed with. Raw
# touchpoints are client input (``store:berlin``): the cache stops growing at this size.
_TOUCHPOINT_CACHE_MAX: Final = 4096
_touchpoints: Final[dict[str, tuple[LabelSets, int]]] = {}


def id_hash(event_id: str) -> int:
    """A 64-bit hash of an event id: state never holds the ids themselves."""
    return int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=8).digest(), "big")


def event_time_ms(occurred_ms: int, sent_ms: int | None, broker_ms: int) -> int:
    """Snowplow-style skew correction: broker time minus the device's send delay."""
    if sent_ms is None:
        return occurred_ms
    return broker_ms - (sent_ms - occurred_ms)


class PreScored(NamedTuple):
    """A comment's sentiment, scored before the event left its partition (a ``Score``)."""

    compound: float
    polarity: str


@final
class EventView:
    """One event as the logic sees it. Read-only by convention (``with_claim`` and
    ``without_account`` copy): compiled, a native class is built by a direct call and read
    by offset, where a NamedTuple cost a Python-level ``__new__`` with keyword parsing
    (~0.6 µs of the ~3 µs ``build``) and a checked tuple lookup per field."""

    __slots__ = (
        "account",
        "action",
        "apart_claim",
        "arm",
        "at_ms",
        "ces",
        "channel",
        "comment",
        "csat",
        "currency",
        "event_type",
        "id_hash",
        "language",
        "nps",
        "revenue",
        "score",
        "source",
        "ticket",
        "touchpoint",
        "vital",
    )

    def __init__(
        self,
        event_type: str,
        id_hash: int,
        at_ms: int,
        channel: int,
        touchpoint: int,
        action: str | None = None,
        revenue: Decimal | None = None,
        currency: str | None = None,
        nps: int | None = None,
        csat: int | None = None,
        ces: int | None = None,
        comment: str | None = None,
        language: str | None = None,
        account: str | None = None,
        source: int = 0,  # index into customer.SOURCES
        # A comment's sentiment scored where the event arrived: events held in state or
        # forwarded to a linked customer's partition carry the score, never the comment
        # (docs/identity.md).
        score: PreScored | None = None,
        vital: Vital | None = None,  # a web_vital's measurement
        ticket: TicketRef | None = None,  # a support event's ticket
        arm: Pair | None = None,  # its allowed (experiment, variant) (tracker.core.experiments)
        # >= 0: forwarded from a linked device outside the device's own session, and this is
        # the link's claim (CustomerContext.apply, tracker.core.identity.device_session).
        apart_claim: int = -1,
    ) -> None:
        self.event_type = event_type
        self.id_hash = id_hash
        self.at_ms = at_ms
        self.channel = channel
        self.touchpoint = touchpoint
        self.action = action
        self.revenue = revenue
        self.currency = currency
        self.nps = nps
        self.csat = csat
        self.ces = ces
        self.comment = comment
        self.language = language
        self.account = account
        self.source = source
        self.score = score
        self.vital = vital
        self.ticket = ticket
        self.arm = arm
        self.apart_claim = apart_claim

    def _copy(self) -> EventView:
        return EventView(
            self.event_type,
            self.id_hash,
            self.at_ms,
            self.channel,
            self.touchpoint,
            self.action,
            self.revenue,
            self.currency,
            self.nps,
            self.csat,
            self.ces,
            self.comment,
            self.language,
            self.account,
            self.source,
            self.score,
            self.vital,
            self.ticket,
            self.arm,
            self.apart_claim,
        )

    def with_claim(self, claim: int) -> EventView:
        """A copy marked as forwarded apart from the device's session (``apart_claim``)."""
        view = self._copy()
        view.apart_claim = claim
        return view

    def without_account(self) -> EventView:
        view = self._copy()
        view.account = None
        return view

    @staticmethod
    def build(
        event: fast.AnyEvent,
        broker_ms: int,
        labels: LabelSets,
        account: str | None = None,
        ticket: int | None = None,
    ) -> EventView:
        """``ticket``: a support event's keyed ticket hash (``support.ticket_hash``)."""
        sent = event.sent_at
        at_ms = to_ms(event.occurred_at)
        if sent is not None:
            at_ms = event_time_ms(at_ms, to_ms(sent), broker_ms)
        kind = event.event_type
        experiment = event.experiment
        view = EventView(
            kind,
            id_hash(event.event_id),
            at_ms,
            _CHANNEL_INDEX[event.channel],
            touchpoint_index(labels, event.touchpoint),
            account=account,
            source=traffic_source(event, kind),
            arm=None if experiment is None else labels.arm(experiment, event.variant or ""),
        )
        # The type's name first: a string compare, where each ``isinstance`` looks a class
        # of the uncompiled contract up in the module's globals.
        if kind == "order" and isinstance(event, Order):
            view.revenue = event.revenue
            view.currency = labels.currency(event.currency)
        elif kind == "interaction" and isinstance(event, _INTERACTION):
            view.action = labels.action(event.action)
        elif kind == "feedback" and isinstance(event, _FEEDBACK):
            view.nps, view.csat, view.ces = event.nps, event.csat, event.ces
            view.comment, view.language = event.comment, event.language
        elif kind in _SUPPORT_TYPES and isinstance(event, SUPPORT_CLASSES):
            if ticket is None:
                raise ValueError("a support event needs its keyed ticket hash")
            agent = kind in AGENT_EVENT_TYPES
            view.ticket = TicketRef(ticket, _SUPPORT_INDEX[event.support_channel], agent)
        elif kind == "web_vital" and isinstance(event, _WEB_VITAL):
            view.vital = Vital(_VITAL_INDEX[event.name], event.value)
        return view


def touchpoint_index(labels: LabelSets, raw: str) -> int:
    """``labels.touchpoint_index(raw)``, remembered for the raw touchpoints seen most."""
    hit = _touchpoints.get(raw)
    if hit is not None and hit[0] is labels:
        return hit[1]
    index = labels.touchpoint_index(raw)
    if hit is not None or len(_touchpoints) < _TOUCHPOINT_CACHE_MAX:
        _touchpoints[raw] = (labels, index)
    return index


def traffic_source(event: fast.AnyEvent, kind: str) -> int:
    """Campaign and referrer are attribution data: used only with marketing consent.

    ``kind``: the event's type, compared first (as in ``build``): ``isinstance`` against a
    class of the uncompiled contract that the event is not runs ABCMeta's check, in Python.
    """
    if not event.consent.marketing:
        return _UNATTRIBUTED
    if kind == "page_view" and isinstance(event, _PAGE_VIEW):
        if event.campaign:
            return _CAMPAIGN
        if event.referrer:
            return _REFERRAL
    return _DIRECT
