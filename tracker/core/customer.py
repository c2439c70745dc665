"""What the tracker holds for one (pseudonymous) customer, and its compact codec.

Times are epoch milliseconds (UTC) in state: they are compared and stored
millions of times, and ints are smaller and faster than datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Kinds of session steps (events that make up a journey).
STEP_PAGE_VIEW = 0
STEP_INTERACTION = 1
STEP_ORDER = 2
STEP_FEEDBACK = 3
MAX_STEPS = 512  # a journey longer than this keeps counting but stops recording steps
# Traffic source of a session; campaign and referrer count only with marketing consent.
SOURCES = ("unattributed", "direct", "referral", "campaign")


@dataclass(slots=True)
class Step:
    at_ms: int
    touchpoint: int  # index into LabelSets.touchpoints
    channel: int  # index into CHANNELS
    kind: int


@dataclass(slots=True)
class Session:
    start_ms: int
    last_ms: int
    entry_channel: int
    page_views: int = 0
    interactions: int = 0
    orders: int = 0
    channels: int = 0  # bit set of channel indexes touched
    steps: list[Step] = field(default_factory=list)
    source: int = 0  # index into SOURCES: how the session was reached

    def deadline_ms(self, gap_ms: int, max_ms: int) -> int:
        """The watermark at or past which the session is over."""
        return min(self.last_ms + gap_ms + 1, self.start_ms + max_ms)


@dataclass(slots=True)
class CustomerState:
    session: Session | None = None
    last_seen_ms: int = -1
    last_seen_by_channel: dict[int, int] = field(default_factory=dict)
    order_times: list[int] = field(default_factory=list)  # newest two, newest first
    seen_ids: dict[int, int] = field(default_factory=dict)  # event-id hash -> event time
    withdrawn_until_ms: int = -1  # >= 0: a withdrawal marker, nothing else is kept
    account: str | None = None  # pseudonymous account of the last event, if any

    @property
    def withdrawn(self) -> bool:
        return self.withdrawn_until_ms >= 0

    def is_empty(self) -> bool:
        return (
            self.session is None
            and self.last_seen_ms < 0
            and not self.order_times
            and not self.withdrawn
        )

    def last_activity_ms(self) -> int:
        times = [self.last_seen_ms, *self.order_times]
        if self.session is not None:
            times.append(self.session.last_ms)
        return max(times)


def encode_state(state: CustomerState) -> list[Any]:
    s = state.session
    session = None
    if s is not None:
        session = [
            s.start_ms,
            s.last_ms,
            s.entry_channel,
            s.page_views,
            s.interactions,
            s.orders,
            s.channels,
            [[x.at_ms, x.touchpoint, x.channel, x.kind] for x in s.steps],
            s.source,
        ]
    return [
        session,
        state.last_seen_ms,
        [[c, t] for c, t in state.last_seen_by_channel.items()],
        state.order_times,
        [v for pair in state.seen_ids.items() for v in pair],
        state.withdrawn_until_ms,
        state.account,
    ]


def decode_state(data: list[Any]) -> CustomerState:
    raw_session, last_seen, by_channel, orders, seen, withdrawn, account = data
    session = None
    if raw_session is not None:
        start, last, entry, pv, inter, orders_n, channels, steps, source = raw_session
        session = Session(
            start, last, entry, pv, inter, orders_n, channels, [Step(*x) for x in steps], source
        )
    return CustomerState(
        session=session,
        last_seen_ms=last_seen,
        last_seen_by_channel=dict(by_channel),
        order_times=list(orders),
        seen_ids=dict(zip(seen[::2], seen[1::2], strict=True)),
        withdrawn_until_ms=withdrawn,
        account=account,
    )
