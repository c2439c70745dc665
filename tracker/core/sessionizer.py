"""Per-customer rules of docs/metrics.md (from #sessions on): pure, time passed in.

Every function takes the customer's state, an event (or a moment) and
writes what it changed in the partition aggregates into a ``Delta``.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from enum import Enum
from typing import Final

from tracker.core import experience as cx  # issue 20: load times, support, experiments
from tracker.core.aggregates import Delta, counter_key
from tracker.core.bounds import MICROS
from tracker.core.contract import CHANNELS, EVENT_TYPES
from tracker.core.customer import (
    MAX_STEPS,
    SOURCES,
    STEP_INTERACTION,
    STEP_KINDS,
    STEP_ORDER,
    STEP_PAGE_VIEW,
    CustomerState,
    Session,
    Step,
)
from tracker.core.dedup import DEDUP_IDS, forget_oldest
from tracker.core.events import EventView
from tracker.core.feedback import SENTIMENT_BUCKETS as SENTIMENT_BUCKETS
from tracker.core.feedback import Score as Score
from tracker.core.feedback import Scorer as Scorer
from tracker.core.feedback import count_feedback
from tracker.core.histogram import minute_of
from tracker.core.labels import LabelSets

# ``Final``: compiled, a C static read per event, not a lookup by name in the module's dict.
ENGAGED_MS: Final = 10_000
_REACH_BUCKETS: Final = tuple(f"reach:{channel}" for channel in CHANNELS)
# tracker_events_total keys by event type, then channel index: no tuple built per event.
_EVENT_KEYS: Final = {
    event_type: tuple(counter_key("tracker_events_total", event_type, c) for c in CHANNELS)
    for event_type in EVENT_TYPES
}
_STEP_KIND: Final = {kind: STEP_KINDS.index(kind) for kind in STEP_KINDS}  # event type -> kind
# Extend an open session but never start one: no phantom sessions from background tabs.
NEVER_STARTS: Final = frozenset({"page_ping", "web_vital"})
NO_SESSION: Final = frozenset({"consent", "identify"})  # never start or extend a session
_NOTED: Final = frozenset({"web_vital", "order", "support_contact", "feedback"})  # cx.note_session


class Outcome(Enum):
    COUNTED = "counted"
    LATE = "late"
    DUPLICATE = "duplicate"
    NO_CONSENT = "no_consent"


@dataclass(frozen=True, slots=True)
class Rules:
    labels: LabelSets
    gap_ms: int = 1_800_000
    max_session_ms: int = 86_400_000
    dedup_ms: int = 86_400_000
    withdrawal_ms: int = 90 * 86_400_000
    scorer: Scorer | None = None
    experience: cx.ExperienceRules = field(default_factory=cx.ExperienceRules)


def accept(rules: Rules, state: CustomerState, ev: EventView, wm_ms: int, delta: Delta) -> Outcome:
    """Apply one consented, schema-valid, not-future event of this customer."""
    if state.withdrawn:
        if ev.event_type != "consent":
            return Outcome.NO_CONSENT
        state.withdrawn_until_ms = -1  # a fresh grant lifts the marker
    ticket = ev.ticket
    agent = ticket is not None and ticket.agent
    if agent and not cx.consented(state, ev):  # about a ticket the state does not know
        delta.count(counter_key("tracker_events_dropped_total", "no_consent"))
        return Outcome.NO_CONSENT
    seen_at = state.seen_ids.get(ev.id_hash)
    if seen_at is not None and abs(ev.at_ms - seen_at) <= rules.dedup_ms:
        delta.count(counter_key("tracker_events_dropped_total", "duplicate"))
        return Outcome.DUPLICATE
    _remember_id(rules, state, ev, seen_at is not None, delta)
    event_type = ev.event_type
    delta.count(_EVENT_KEYS[event_type][ev.channel])
    if ev.at_ms > delta.max_event_ms:
        delta.max_event_ms = ev.at_ms
    if not agent:  # an agent acted, not the customer
        _update_reach(state, ev, delta)
        cx.seen(state, ev, delta)
    if event_type == "order":
        _count_order(state, ev, delta)
        cx.ordered(rules.experience, state, ev, delta)
    elif event_type == "feedback":
        count_feedback(rules.scorer, ev, delta)
    elif event_type == "interaction" and ev.action is not None:
        delta.count(counter_key("tracker_interactions_total", ev.action, CHANNELS[ev.channel]))
    elif ev.vital is not None or ticket is not None:
        cx.count_event(rules.experience, state, ev, rules.labels.touchpoints, delta)
    if event_type in NO_SESSION or agent:
        return Outcome.COUNTED  # consents, identities, agents never start or extend a session
    if ev.at_ms < wm_ms - rules.gap_ms or _before_session(rules, state.session, ev):
        delta.count(counter_key("tracker_events_late_total"))
        return Outcome.LATE
    sessionize(rules, state, ev, delta)
    return Outcome.COUNTED


def close_session(rules: Rules, state: CustomerState, delta: Delta) -> None:
    """Count the customer's open session as closed (docs/metrics.md#session-outcomes)."""
    session = state.session
    if session is None:
        return
    state.session = None
    entry = CHANNELS[session.entry_channel]
    bounced = session.page_views <= 1 and not session.interactions and not session.orders
    engaged = (
        session.last_ms - session.start_ms >= ENGAGED_MS
        or session.page_views >= 2
        or session.interactions > 0
        or session.orders > 0
    )
    outcomes = {
        "closed": True,
        "bounced": bounced,
        "engaged": engaged,
        "interacted": session.interactions > 0,
        "converted": session.orders > 0,
    }
    minute = minute_of(session.last_ms)
    for name, happened in outcomes.items():
        if happened:
            delta.count(counter_key(f"tracker_sessions_{name}_total", entry))
            delta.bucket(f"sess:{name}", minute, 1)
            # By entry channel too: the overview's channel table and per-channel rates.
            delta.bucket(f"sess:{name}:{entry}", minute, 1)
    source = SOURCES[session.source]
    delta.count(counter_key("tracker_sessions_by_source_total", source))
    if session.orders:
        delta.count(counter_key("tracker_sessions_converted_by_source_total", source))
    if session.channels.bit_count() > 1:
        delta.count(counter_key("tracker_sessions_multichannel_total", entry))
    cx.count_closed(session, delta)
    _count_journey(rules, session, delta)


def withdraw(
    rules: Rules,
    state: CustomerState,
    at_ms: int,
    reason: str,
    id_hash: int | None,
    delta: Delta,
) -> CustomerState:
    """Erase everything held for the customer; return the marker that replaces it."""
    had_data = not state.withdrawn and not state.is_empty()
    session = state.session
    if session is not None and at_ms > session.last_ms + rules.gap_ms:
        close_session(rules, state, delta)  # it had ended before the withdrawal: it counts
    elif session is not None:
        # Still open: discarded uncounted, but started = closed + active + merged + discarded.
        entry = CHANNELS[session.entry_channel]
        delta.count(counter_key("tracker_sessions_discarded_total", entry))
    if state.last_seen_ms >= 0:
        delta.bucket("reach:all", minute_of(state.last_seen_ms), -1)
    for channel, seen in state.last_seen_by_channel.items():
        delta.bucket(f"reach:{CHANNELS[channel]}", minute_of(seen), -1)
    for rank, when in enumerate(state.order_times[:2], start=1):
        delta.bucket(f"rep:{rank}", minute_of(when), -1)
    cx.leave(state, delta)
    if had_data:
        delta.count(counter_key("tracker_erasures_total", reason))
    marker = CustomerState(withdrawn_until_ms=at_ms + rules.withdrawal_ms)
    if state.withdrawn:
        # Keep the ids of earlier withdrawals: a retried one is still a duplicate.
        horizon = at_ms - rules.dedup_ms
        marker.seen_ids = {h: t for h, t in state.seen_ids.items() if t >= horizon}
    if id_hash is not None:
        marker.seen_ids[id_hash] = at_ms
    return marker


def is_duplicate_withdrawal(rules: Rules, state: CustomerState, id_hash: int, at_ms: int) -> bool:
    seen_at = state.seen_ids.get(id_hash)
    return seen_at is not None and abs(at_ms - seen_at) <= rules.dedup_ms


# --- internals ---------------------------------------------------------------


def _remember_id(
    rules: Rules, state: CustomerState, ev: EventView, known: bool, delta: Delta
) -> None:
    """Remember the id; beyond 16 ids, forget those older than the newest minus the window,
    and beyond ``DEDUP_IDS`` the earliest to arrive (tracker.core.dedup).

    ``known``: whether ``seen_ids`` holds the id (``accept`` has just looked it up).

    The newest and oldest remembered time are memoized for the ``seen_ids`` dict last seen
    here (see ``_SeenMemo``): the events of one batch message then cost O(1) each instead of
    two scans of every id the customer sent in the last 24 hours.
    """
    seen = state.seen_ids
    at_ms = ev.at_ms
    if known:
        del seen[ev.id_hash]  # seen again after the window: now the latest to arrive
    seen[ev.id_hash] = at_ms
    size = len(seen)
    if size <= 16:
        return
    memo = _seen_memo
    if memo.ids is seen and not known and memo.size == size - 1:
        newest = memo.newest if memo.newest >= at_ms else at_ms
        oldest = memo.oldest if memo.oldest <= at_ms else at_ms
    else:
        times = seen.values()
        newest, oldest = max(times), min(times)
    horizon = newest - rules.dedup_ms
    if oldest < horizon:
        seen = state.seen_ids = {h: t for h, t in seen.items() if t >= horizon}
        size, oldest = len(seen), min(seen.values())
    if size > DEDUP_IDS:
        if forget_oldest(seen, horizon):
            _count_hot(rules, state, at_ms, delta)
        size = len(seen)  # ``oldest`` stays a lower bound: at worst a prune runs needlessly
    memo.ids, memo.size, memo.newest, memo.oldest = seen, size, newest, oldest


def _count_hot(rules: Rules, state: CustomerState, at_ms: int, delta: Delta) -> None:
    """A customer whose memory is full within the window: counted once per window."""
    if state.capped_at_ms < 0 or at_ms > state.capped_at_ms + rules.dedup_ms:
        delta.count(counter_key("tracker_hot_customers_total"))
        state.capped_at_ms = at_ms


class _SeenMemo:
    """Newest and oldest time in the ``seen_ids`` dict ``_remember_id`` handled last.

    Valid while that very dict (held here, so its identity cannot be reused) has only
    grown by new ids since, which ``_remember_id`` checks: nothing else changes a
    ``seen_ids`` dict in place (a withdrawal or a decoded row brings a new dict).
    """

    __slots__ = ("ids", "newest", "oldest", "size")

    def __init__(self) -> None:
        self.ids: dict[int, int] | None = None
        self.size = -1
        self.newest = 0
        self.oldest = 0


_seen_memo: Final = _SeenMemo()


def _update_reach(state: CustomerState, ev: EventView, delta: Delta) -> None:
    at_ms, channel = ev.at_ms, ev.channel
    minute = minute_of(at_ms)
    if at_ms > state.last_seen_ms:
        delta.mark("reach:all", state.last_seen_ms, minute)
        state.last_seen_ms = at_ms
    by_channel = state.last_seen_by_channel
    previous = by_channel.get(channel, -1)
    if at_ms > previous:
        delta.mark(_REACH_BUCKETS[channel], previous, minute)
        by_channel[channel] = at_ms


def _count_order(state: CustomerState, ev: EventView, delta: Delta) -> None:
    assert ev.revenue is not None and ev.currency is not None
    channel = CHANNELS[ev.channel]
    delta.count(counter_key("tracker_orders_total", channel))
    delta.add_revenue(ev.currency, ev.revenue)
    # Windowed revenue in millionths (exact: the contract allows six decimals) feeds the
    # revenue gauges. Rows written before kept cents under ``rev:``; exposition adds both.
    minute, micros = minute_of(ev.at_ms), int(ev.revenue * MICROS)
    delta.bucket(f"revu:{ev.currency}", minute, micros)
    # Orders and revenue in a window by the order event's channel (the channel table).
    delta.bucket(f"ord:{channel}", minute, 1)
    delta.bucket(f"revu:{ev.currency}:{channel}", minute, micros)
    # Repurchase: customers whose newest / second-newest order lies in the window.
    before = state.order_times[:2]
    after = sorted([*before, ev.at_ms], reverse=True)[:2]
    for rank in (1, 2):
        old = before[rank - 1] if len(before) >= rank else None
        new = after[rank - 1] if len(after) >= rank else None
        if old != new:
            if old is not None:
                delta.bucket(f"rep:{rank}", minute_of(old), -1)
            if new is not None:
                delta.bucket(f"rep:{rank}", minute_of(new), 1)
    state.order_times = after


def _before_session(rules: Rules, session: Session | None, ev: EventView) -> bool:
    return session is not None and ev.at_ms < session.start_ms - rules.gap_ms


def sessionize(rules: Rules, state: CustomerState, ev: EventView, delta: Delta) -> None:
    session = state.session
    if session is not None and (
        ev.at_ms > session.last_ms + rules.gap_ms
        or ev.at_ms >= session.start_ms + rules.max_session_ms
    ):
        if ev.event_type in NEVER_STARTS:
            return  # a heartbeat or vital after the session ended neither extends nor starts one
        close_session(rules, state, delta)
        session = None
    if session is None:
        if ev.event_type in NEVER_STARTS:
            return
        session = Session(
            start_ms=ev.at_ms, last_ms=ev.at_ms, entry_channel=ev.channel, source=ev.source
        )
        state.session = session
        delta.count(counter_key("tracker_sessions_started_total", CHANNELS[ev.channel]))
    if ev.at_ms < session.start_ms:
        if ev.channel != session.entry_channel:
            # The entry channel changes: counted as a start under the new one and as merged
            # under the one it replaces, so started = closed + active + merged + discarded
            # holds per channel (docs/metrics.md#sessions).
            delta.count(counter_key("tracker_sessions_started_total", CHANNELS[ev.channel]))
            old = CHANNELS[session.entry_channel]
            delta.count(counter_key("tracker_sessions_merged_total", old))
        session.start_ms = ev.at_ms
        session.entry_channel = ev.channel
        session.source = ev.source
    session.last_ms = max(session.last_ms, ev.at_ms)
    session.channels |= 1 << ev.channel
    if ev.event_type in _NOTED or ev.arm is not None:
        cx.note_session(session, ev)
    kind = _STEP_KIND.get(ev.event_type)
    if kind is None:
        return
    if kind == STEP_PAGE_VIEW:
        session.page_views += 1
    elif kind == STEP_INTERACTION:
        session.interactions += 1
    elif kind == STEP_ORDER:
        session.orders += 1
    steps = session.steps
    if len(steps) < MAX_STEPS:
        step = Step(ev.at_ms, ev.touchpoint, ev.channel, kind)
        if not steps or steps[-1].at_ms <= ev.at_ms:
            steps.append(step)  # in order: where insort (after equal times) would put it
        else:
            bisect.insort(steps, step, key=_step_time)


def _step_time(step: Step) -> int:
    return step.at_ms


def _count_journey(rules: Rules, session: Session, delta: Delta) -> None:
    steps = session.steps
    if not steps:
        return
    names = rules.labels.touchpoints
    previous: int | None = None
    for step in steps:
        if previous is not None and step.touchpoint != previous:
            delta.count(
                counter_key(
                    "tracker_journey_transitions_total", names[previous], names[step.touchpoint]
                )
            )
        previous = step.touchpoint
    delta.count(counter_key("tracker_session_exits_total", names[steps[-1].touchpoint]))
    reached = 0
    funnel = rules.labels.funnel
    for step in steps:
        # One step can satisfy several funnel steps: an order placed on the checkout page.
        while reached < len(funnel) and _reaches(step, funnel[reached], names):
            reached += 1
    minute = minute_of(session.last_ms)
    for name in funnel[:reached]:
        delta.count(counter_key("tracker_funnel_sessions_total", name))
        delta.bucket(f"fun:{name}", minute, 1)  # the funnel of a window, as sessions close
    first_order = next((i for i, s in enumerate(steps) if s.kind == STEP_ORDER), None)
    if first_order is not None:
        before = steps[first_order - 1] if first_order > 0 else steps[first_order]
        delta.count(counter_key("tracker_conversions_last_channel_total", CHANNELS[before.channel]))


def _reaches(step: Step, target: str, names: tuple[str, ...]) -> bool:
    if target == "order":
        return step.kind == STEP_ORDER
    return names[step.touchpoint] == target
