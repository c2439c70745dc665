"""The hot path's shortcuts behave exactly like the plain code they replace."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import AwareDatetime, TypeAdapter

from tests.unit.helpers import config, ev, ms
from tracker.core.aggregates import Delta
from tracker.core.contract import CHANNELS, parse_event
from tracker.core.customer import SOURCES, CustomerState
from tracker.core.dedup import DEDUP_IDS
from tracker.core.events import EventView, PreScored, id_hash, touchpoint_index
from tracker.core.labels import LabelSets
from tracker.core.sessionizer import Rules, _remember_id
from tracker.core.support import TicketRef
from tracker.core.timestamps import PARSED_EPOCH, to_ms
from tracker.core.vitals import Vital

DAY_MS = 86_400_000
AWARE: TypeAdapter[datetime] = TypeAdapter(AwareDatetime)


def _remember_plainly(rules: Rules, state: CustomerState, event: EventView) -> None:
    """The rule written plainly: remember (as the latest to arrive), then forget what is
    older than newest - window, then the earliest to arrive beyond ``DEDUP_IDS``."""
    state.seen_ids.pop(event.id_hash, None)
    state.seen_ids[event.id_hash] = event.at_ms
    if len(state.seen_ids) > 16:
        horizon = max(state.seen_ids.values()) - rules.dedup_ms
        state.seen_ids = {h: t for h, t in state.seen_ids.items() if t >= horizon}
        state.seen_ids = dict(list(state.seen_ids.items())[-DEDUP_IDS:])


def test_remembered_ids_match_the_plain_rule_under_any_interleaving() -> None:
    rules = config().rules
    rng = random.Random(4)
    for trial in range(60):
        # Every third trial is a busy one: more ids in the window than the memory holds.
        steps = (1_000,) if trial % 3 == 0 else (1_000, 60_000, 3_600_000, DAY_MS // 3)
        fast = [CustomerState() for _ in range(3)]
        plain = [CustomerState() for _ in range(3)]
        clock = 0
        for _ in range(400):
            who = rng.randrange(3)  # customers interleave, as the events of many messages do
            roll = rng.random()
            if roll < 0.05:  # a decoded row or a withdrawal brings a new dict
                fast[who].seen_ids = dict(fast[who].seen_ids)
                plain[who].seen_ids = dict(plain[who].seen_ids)
                continue
            clock += rng.choice(steps)
            at = clock - rng.choice((0, 0, 0, 5_000, DAY_MS, 2 * DAY_MS))  # some arrive late
            known = list(plain[who].seen_ids)
            hashed = rng.choice(known) if known and roll < 0.15 else rng.getrandbits(64)
            event = EventView("page_view", hashed, at, 0, 0)
            seen = event.id_hash in fast[who].seen_ids  # as ``accept`` looks it up first
            _remember_id(rules, fast[who], event, seen, Delta())
            _remember_plainly(rules, plain[who], event)
            assert list(fast[who].seen_ids.items()) == list(plain[who].seen_ids.items())


def _labels() -> LabelSets:
    return config().rules.labels


def test_event_view_fields() -> None:
    labels = _labels()
    order = parse_event(
        ev("order", "ana", 10, channel="store", touchpoint="store:berlin", revenue="12.50")
    )
    view = EventView.build(order, ms(11), labels, account="acct")
    assert view.event_type == "order"
    assert view.id_hash == id_hash(order.event_id)
    assert view.at_ms == ms(10)
    assert CHANNELS[view.channel] == "store"
    assert labels.touchpoints[view.touchpoint] == "store"
    assert (view.action, view.revenue, view.currency) == (None, Decimal("12.50"), "EUR")
    assert view.account == "acct"
    assert SOURCES[view.source] == "unattributed"

    chat = parse_event(
        ev(
            "interaction",
            "ana",
            20,
            action="support_chat",
            sent_at="2026-05-04T09:00:25Z",
            consent={"analytics": True, "marketing": True},
        )
    )
    view = EventView.build(chat, ms(30), labels)
    assert view.at_ms == ms(30) - (ms(25) - ms(20))  # skew-corrected
    assert view.action == "support_chat"
    assert SOURCES[view.source] == "direct"

    feedback = parse_event(ev("feedback", "ana", 40, nps=3, comment="gut", language="de"))
    view = EventView.build(feedback, ms(40), labels)
    assert (view.nps, view.csat, view.ces, view.comment, view.language) == (
        3,
        None,
        None,
        "gut",
        "de",
    )
    campaign = parse_event(
        ev(
            "page_view",
            "ana",
            50,
            campaign="spring",
            consent={"analytics": True, "marketing": True},
        )
    )
    assert SOURCES[EventView.build(campaign, ms(50), labels).source] == "campaign"
    assert to_ms(campaign.occurred_at) == ms(50)


def test_an_event_view_copy_changes_only_the_field_it_is_for() -> None:
    # A class now, not a NamedTuple: ``_copy`` must carry every field ``_replace`` did.
    values: dict[str, Any] = {
        "event_type": "feedback",
        "id_hash": 1,
        "at_ms": 2,
        "channel": 3,
        "touchpoint": 4,
        "action": "search",
        "revenue": Decimal("5.50"),
        "currency": "EUR",
        "nps": 6,
        "csat": 4,
        "ces": 3,
        "comment": "gut",
        "language": "de",
        "account": "acct",
        "source": 2,
        "score": PreScored(0.5, "positive"),
        "vital": Vital(1, 0.25),
        "ticket": TicketRef(9, 1, False),
        "arm": ("checkout", "b"),
        "apart_claim": 5,
    }
    assert sorted(getattr(EventView, "__slots__", values)) == sorted(values)  # source: all
    view = EventView(*values.values())
    claimed, unlinked = view.with_claim(7), view.without_account()
    for name, value in values.items():
        assert getattr(view, name) == value
        assert getattr(claimed, name) == (7 if name == "apart_claim" else value)
        assert getattr(unlinked, name) == (None if name == "account" else value)


def test_touchpoint_index_follows_the_label_sets_it_is_asked_with() -> None:
    wide = _labels()
    narrow = LabelSets.build(["home"], ["search"], ["EUR"], ["home"])
    for _ in range(2):
        assert wide.touchpoints[touchpoint_index(wide, "cart:xl")] == "cart"
        assert narrow.touchpoints[touchpoint_index(narrow, "cart:xl")] == "other"
        assert touchpoint_index(wide, "cart:xl") == wide.touchpoint_index("cart:xl")


def test_to_ms_is_the_floor_of_the_span_since_the_epoch_for_any_offset() -> None:
    rng = random.Random(7)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    for offset in ("Z", "z", "+00:00", "-00:00", "+02:00", "-05:30", "+14:00", "-23:59"):
        for _ in range(300):
            year, day = rng.choice((1970, 2026, 9999)), rng.randint(1, 28)
            digits = rng.choice(("", f".{rng.randint(0, 999_999_999):09d}"[: rng.randint(2, 10)]))
            text = f"{year}-0{rng.randint(1, 9)}-{day:02d}T{rng.randint(0, 23):02d}:59:59{digits}"
            moment = AWARE.validate_python(text + offset)
            assert to_ms(moment) == (moment - epoch) // timedelta(milliseconds=1)
    # The fast path holds for the UTC timestamps pydantic parses (the tzinfo it shares).
    assert AWARE.validate_python("2026-05-04T09:00:00+00:00").tzinfo is PARSED_EPOCH.tzinfo


def _bucket_ops(rng: random.Random, names: tuple[str, ...]) -> list[tuple[str, int, int]]:
    """A delta's bucket changes: +1/-1 marks (reach), amounts (revenue), over few minutes."""
    return [
        (rng.choice(names), rng.randrange(4), rng.choice((1, 1, -1, -1, 0, 7, -7)))
        for _ in range(rng.randrange(1, 40))
    ]


def test_mark_is_the_removal_then_the_addition_it_replaces_in_order_too() -> None:
    rng = random.Random(11)
    for _ in range(400):
        fast, plain = Delta(), Delta()
        for name, minute, n in _bucket_ops(rng, ("reach:all", "reach:web")):
            fast.bucket(name, minute, n)
            plain.bucket(name, minute, n)
        for _ in range(rng.randrange(1, 8)):
            name, old = rng.choice(("reach:all", "reach:web")), rng.randrange(4)
            new = old if rng.random() < 0.6 else old + rng.randrange(1, 3)
            previous = -1 if rng.random() < 0.1 else old * 60_000 + rng.randrange(60_000)
            fast.mark(name, previous, new)
            if previous >= 0:
                plain.bucket(name, old, -1)
            plain.bucket(name, new, 1)
            # The rows write the dict in its order: the order must be the same, not only equal.
            assert list(fast.buckets.items()) == list(plain.buckets.items())


def test_copy_is_a_merge_into_an_empty_delta() -> None:
    rng = random.Random(12)
    amounts = (Decimal("12.50"), Decimal("1E+2"), Decimal("0.000001"), Decimal("-3"))
    for trial in range(200):
        delta = Delta(max_event_ms=rng.choice((0, -5, 1_000)))
        for name, minute, n in _bucket_ops(rng, ("revu:EUR", "reach:all", "ord:web")):
            delta.bucket(name, minute, n)
            delta.count(f"{name}:{minute}", n)  # zero counts stay, as a merge keeps them
        for _ in range(rng.randrange(3)):
            delta.add_revenue(rng.choice(("EUR", "USD")), rng.choice(amounts))
        if trial % 10 == 0:
            delta.buckets[("stray", 1)] = 0  # no bucket holds 0; a merge would skip one
        plain = Delta()
        plain.merge(delta)
        copied = delta.copy()
        assert list(copied.counters.items()) == list(plain.counters.items())
        assert list(copied.buckets.items()) == list(plain.buckets.items())
        assert [(k, str(v)) for k, v in copied.revenue.items()] == [
            (k, str(v)) for k, v in plain.revenue.items()
        ]
        assert copied.max_event_ms == plain.max_event_ms
        assert copied.counters is not delta.counters and copied.buckets is not delta.buckets
