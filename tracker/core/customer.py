"""What the tracker holds for one (pseudonymous) customer, and its compact codec.

Times are epoch milliseconds (UTC) in state: they are compared and stored
millions of times, and ints are smaller and faster than datetimes.
"""

from __future__ import annotations

from collections.abc import Callable, MutableSequence, Sequence
from dataclasses import dataclass
from typing import Any, Final

from tracker.core.codes import (
    CHANNEL_CODES,
    SOURCE_CODES,
    STEP_KIND_CODES,
    VITAL_RATING_CODES,
    CodeTable,
)
from tracker.core.contract import CHANNELS, VITAL_RATINGS
from tracker.core.dedup import pack_ids, unpack_ids
from tracker.core.experiments import Seen
from tracker.core.experiments import decode as decode_experiments
from tracker.core.experiments import encode as encode_experiments
from tracker.core.identity_state import IdentityState
from tracker.core.labels import OTHER
from tracker.core.retention import Retention
from tracker.core.retention import decode as decode_retention
from tracker.core.retention import encode as encode_retention
from tracker.core.steps import LazySteps
from tracker.core.support import (
    SessionSupport,
    Ticket,
    decode_session,
    decode_tickets,
    encode_session,
    encode_tickets,
)

# ``Final``: the compiled sessionizer reads these per event, each then a C static (or the
# literal itself) instead of a lookup by name in this module's dict. The tuples are of
# ``str, ...``: a fixed-length one would be a C struct, boxed anew for each lookup by index.
# Kinds of session steps (events that make up a journey).
STEP_KINDS: Final[tuple[str, ...]] = ("page_view", "interaction", "order", "feedback")
STEP_PAGE_VIEW: Final = STEP_KINDS.index("page_view")
STEP_INTERACTION: Final = STEP_KINDS.index("interaction")
STEP_ORDER: Final = STEP_KINDS.index("order")
STEP_FEEDBACK: Final = STEP_KINDS.index("feedback")
MAX_STEPS: Final = 512  # a journey longer than this keeps counting but stops recording steps
# Traffic source of a session; campaign and referrer count only with marketing consent.
SOURCES: Final[tuple[str, ...]] = ("unattributed", "direct", "referral", "campaign")

# State holds positions in these tuples; rows store stable codes (tracker.core.codes).
CHANNEL_TABLE = CodeTable("channel", CHANNELS, CHANNEL_CODES)
SOURCE_TABLE = CodeTable("source", SOURCES, SOURCE_CODES)
STEP_KIND_TABLE = CodeTable("step kind", STEP_KINDS, STEP_KIND_CODES)
VITAL_RATING_TABLE = CodeTable("vital rating", VITAL_RATINGS, VITAL_RATING_CODES)
_SESSION_FIELDS_BEFORE_TOUCHPOINT_TABLE = 9


@dataclass(slots=True, init=False)
class Step:
    at_ms: int
    touchpoint: int  # index into LabelSets.touchpoints
    channel: int  # index into CHANNELS
    kind: int  # index into STEP_KINDS

    # Written out, not generated: mypyc compiles it, the generated one stays interpreted.
    def __init__(self, at_ms: int, touchpoint: int, channel: int, kind: int) -> None:
        self.at_ms = at_ms
        self.touchpoint = touchpoint
        self.channel = channel
        self.kind = kind


@dataclass(slots=True, init=False)
class Session:
    start_ms: int
    last_ms: int
    entry_channel: int
    page_views: int
    interactions: int
    orders: int
    channels: int  # bit set of channel indexes touched
    # Not ``list[Step]``: a row's journey is a ``LazySteps``, and compiled code would read a
    # declared list through the list's C API, past the overrides that decode it.
    steps: MutableSequence[Step]
    source: int  # index into SOURCES: how the session was reached
    # The first LCP by event time, the landing page's (tracker.core.vitals): when, and its
    # class as an index into VITAL_RATINGS; -1: none measured yet.
    lcp_ms: int
    lcp: int
    last_order_ms: int  # its latest order: after a support contact, a rescued conversion
    support: SessionSupport | None  # its contacts and feedback (tracker.core.support)
    experiments: list[Seen] | None  # each experiment's first variant it saw

    # Written out, not generated: mypyc compiles it, the generated one stays interpreted.
    def __init__(
        self,
        start_ms: int,
        last_ms: int,
        entry_channel: int,
        page_views: int = 0,
        interactions: int = 0,
        orders: int = 0,
        channels: int = 0,
        steps: MutableSequence[Step] | None = None,
        source: int = 0,
        lcp_ms: int = -1,
        lcp: int = -1,
        last_order_ms: int = -1,
        support: SessionSupport | None = None,
        experiments: list[Seen] | None = None,
    ) -> None:
        self.start_ms = start_ms
        self.last_ms = last_ms
        self.entry_channel = entry_channel
        self.page_views = page_views
        self.interactions = interactions
        self.orders = orders
        self.channels = channels
        self.steps = [] if steps is None else steps
        self.source = source
        self.lcp_ms = lcp_ms
        self.lcp = lcp
        self.last_order_ms = last_order_ms
        self.support = support
        self.experiments = experiments

    def deadline_ms(self, gap_ms: int, max_ms: int) -> int:
        """The watermark at or past which the session is over."""
        return min(self.last_ms + gap_ms + 1, self.start_ms + max_ms)


@dataclass(slots=True, init=False)
class CustomerState:
    session: Session | None
    last_seen_ms: int
    last_seen_by_channel: dict[int, int]
    order_times: list[int]  # newest two, newest first
    seen_ids: dict[int, int]  # event-id hash -> event time
    withdrawn_until_ms: int  # >= 0: a withdrawal marker, nothing else is kept
    # Pseudonymous B2B accounts the customer acted for -> their latest event there: an
    # erasure makes every one of them forget the customer (tracker.core.accounts).
    accounts: dict[str, int]
    # Dead letters keyed by this customer so far and the broker time of the newest: an
    # erasure tombstones their DLQ keys (tracker.core.letters); a marker keeps both.
    letters: int
    last_letter_ms: int
    capped_at_ms: int  # when the de-duplication memory last hit its cap (and counted)
    # Identity stitching (tracker.core.identity_state), kept beside the state list in a row.
    identity: IdentityState | None
    # Support tickets about the customer by keyed hash (tracker.core.support): never an id.
    tickets: dict[int, Ticket]
    # First seen, channels, orders: new, returning and lapsed customers (tracker.core.retention).
    retention: Retention | None

    # Written out, not generated: mypyc compiles it, the generated one stays interpreted.
    def __init__(
        self,
        session: Session | None = None,
        last_seen_ms: int = -1,
        last_seen_by_channel: dict[int, int] | None = None,
        order_times: list[int] | None = None,
        seen_ids: dict[int, int] | None = None,
        withdrawn_until_ms: int = -1,
        accounts: dict[str, int] | None = None,
        letters: int = 0,
        last_letter_ms: int = -1,
        capped_at_ms: int = -1,
        identity: IdentityState | None = None,
        tickets: dict[int, Ticket] | None = None,
        retention: Retention | None = None,
    ) -> None:
        self.session = session
        self.last_seen_ms = last_seen_ms
        self.last_seen_by_channel = {} if last_seen_by_channel is None else last_seen_by_channel
        self.order_times = [] if order_times is None else order_times
        self.seen_ids = {} if seen_ids is None else seen_ids
        self.withdrawn_until_ms = withdrawn_until_ms
        self.accounts = {} if accounts is None else accounts
        self.letters = letters
        self.last_letter_ms = last_letter_ms
        self.capped_at_ms = capped_at_ms
        self.identity = identity
        self.tickets = {} if tickets is None else tickets
        self.retention = retention

    @property
    def withdrawn(self) -> bool:
        return self.withdrawn_until_ms >= 0

    def is_empty(self) -> bool:
        return (
            self.session is None
            and self.last_seen_ms < 0
            and not self.order_times
            and not self.withdrawn
            and not self.letters
            and (self.identity is None or self.identity.is_empty())
            and not self.tickets
        )

    def last_activity_ms(self) -> int:
        times = [self.last_seen_ms, *self.order_times]
        if self.session is not None:
            times.append(self.session.last_ms)
        if self.identity is not None:
            times.append(self.identity.last_ms)
        if self.tickets:
            times.append(max(t.last_ms for t in self.tickets.values()))
        return max(times)


def encode_state(state: CustomerState, touchpoints: Sequence[str]) -> list[Any]:
    """The row form of ``state``; ``touchpoints`` is the allow-list its steps index into.

    Steps name their touchpoint through a small table of labels kept with the
    session, so a restart under a reordered or changed allow-list restores the
    same journey.
    """
    channel_code = CHANNEL_TABLE.to_code
    s = state.session
    session = None
    if s is not None:
        unchanged = s.steps.raw() if isinstance(s.steps, LazySteps) else None
        steps, labels = unchanged or _encode_steps(s.steps, touchpoints)
        if unchanged is None and len(steps) >= MAX_STEPS:
            # A full journey takes no new step: in the form just written, a row kept decoded
            # between messages (row_cache) is not encoded again for each of its events.
            s.steps = LazySteps(steps, labels, _step_decoder(labels, touchpoints))
        session = [
            s.start_ms,
            s.last_ms,
            channel_code[s.entry_channel],
            s.page_views,
            s.interactions,
            s.orders,
            CHANNEL_TABLE.bits_to_codes(s.channels),
            steps,
            SOURCE_TABLE.to_code[s.source],
            labels,
        ]
        if s.lcp >= 0 or s.last_order_ms >= 0 or s.support or s.experiments:  # most: none
            extras = [
                [s.lcp_ms, VITAL_RATING_TABLE.to_code[s.lcp]] if s.lcp >= 0 else None,
                [s.last_order_ms, encode_session(s.support)]
                if s.last_order_ms >= 0 or s.support
                else None,
                encode_experiments(s.experiments),
            ]
            while extras[-1] is None:
                extras.pop()  # trailing ones left out
            session.extend(extras)
    return [
        session,
        state.last_seen_ms,
        [[channel_code[c], t] for c, t in state.last_seen_by_channel.items()],
        state.order_times,
        pack_ids(state.seen_ids),
        state.withdrawn_until_ms,
        [v for pair in state.accounts.items() for v in pair],
        [state.letters, state.last_letter_ms],
        state.capped_at_ms,
        *_issue20(state),
    ]


def _issue20(state: CustomerState) -> list[Any]:
    """Support tickets, retention: appended only when held (older rows end before)."""
    tickets = encode_tickets(state.tickets) if state.tickets else []
    if state.retention is not None:
        return [tickets, encode_retention(state.retention)]
    return [tickets] if tickets else []


def _encode_steps(steps: Sequence[Step], touchpoints: Sequence[str]) -> tuple[list[Any], list[str]]:
    """Steps as ``[at, label number, channel code, kind code]``, and the labels by number."""
    channel_code, kind_code = CHANNEL_TABLE.to_code, STEP_KIND_TABLE.to_code
    numbers: dict[int, int] = {}
    labels: list[str] = []
    rows: list[Any] = []
    for x in steps:
        number = numbers.get(x.touchpoint)
        if number is None:
            number = numbers[x.touchpoint] = len(labels)
            labels.append(touchpoints[x.touchpoint])
        rows.append([x.at_ms, number, channel_code[x.channel], kind_code[x.kind]])
    return rows, labels


def decode_state(data: list[Any], touchpoints: Sequence[str]) -> CustomerState:
    """The state of a row; step touchpoints become indexes into ``touchpoints`` (the allow-list).

    A label the allow-list no longer has becomes ``other``, as a new event's would.
    """
    raw_session, last_seen, by_channel, orders, seen, withdrawn, accounts = data[:7]
    letters, last_letter = data[7] if len(data) > 7 else (0, -1)
    channel = CHANNEL_TABLE.from_code
    return CustomerState(
        session=None if raw_session is None else _decode_session(raw_session, touchpoints),
        last_seen_ms=last_seen,
        last_seen_by_channel={channel[c]: t for c, t in by_channel},
        order_times=list(orders),
        seen_ids=unpack_ids(seen),
        withdrawn_until_ms=withdrawn,
        accounts=_decode_accounts(accounts, last_seen),
        letters=letters,
        last_letter_ms=last_letter,
        capped_at_ms=data[8] if len(data) > 8 else -1,
        tickets=decode_tickets(data[9]) if len(data) > 9 and data[9] else {},
        retention=decode_retention(data[10]) if len(data) > 10 else None,
    )


def _decode_accounts(raw: list[Any] | str | None, last_seen: int) -> dict[str, int]:
    """Rows written before every account was kept held the last event's account only."""
    if raw is None:
        return {}
    if isinstance(raw, str):
        return {raw: last_seen}
    return dict(zip(raw[::2], raw[1::2], strict=True))


def _step_decoder(
    labels: list[str], touchpoints: Sequence[str]
) -> Callable[[list[Any]], list[Step]]:
    def decode(rows: list[Any]) -> list[Step]:
        positions = [_touchpoint_position(touchpoints, label) for label in labels]
        return _decode_steps(rows, positions)

    return decode


def _decode_session(raw: list[Any], touchpoints: Sequence[str]) -> Session:
    start, last, entry, pv, inter, orders_n, channels, steps, source = raw[:9]
    channel = CHANNEL_TABLE.from_code
    if len(raw) > _SESSION_FIELDS_BEFORE_TOUCHPOINT_TABLE:
        labels: list[str] = raw[9]
        decode = _step_decoder(labels, touchpoints)
        journey: MutableSequence[Step] = LazySteps(steps, labels, decode)  # decoded when used
    else:  # written before the table: numbers were positions in the allow-list of that day
        other = _touchpoint_position(touchpoints, OTHER)
        used = {x[1] for x in steps}
        positions = [i if i < len(touchpoints) else other for i in range(max(used, default=0) + 1)]
        journey = _decode_steps(steps, positions)
    lcp_ms, lcp = raw[10] if len(raw) > 10 and raw[10] is not None else (-1, -1)
    last_order_ms, support = raw[11] if len(raw) > 11 and raw[11] is not None else (-1, None)
    return Session(
        start,
        last,
        channel[entry],
        pv,
        inter,
        orders_n,
        CHANNEL_TABLE.bits_from_codes(channels),
        journey,
        SOURCE_TABLE.from_code[source],
        lcp_ms,
        VITAL_RATING_TABLE.position(lcp) if lcp >= 0 else -1,
        last_order_ms,
        decode_session(support),
        decode_experiments(raw[12]) if len(raw) > 12 else None,
    )


def _decode_steps(rows: list[Any], positions: list[int]) -> list[Step]:
    channel, kind = CHANNEL_TABLE.from_code, STEP_KIND_TABLE.from_code
    return [Step(at, positions[tp], channel[c], kind[k]) for at, tp, c, k in rows]


def _touchpoint_position(touchpoints: Sequence[str], label: str) -> int:
    try:
        return touchpoints.index(label)
    except ValueError:
        return touchpoints.index(OTHER)
