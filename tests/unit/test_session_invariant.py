"""started = closed + active + merged + discarded, per channel, whatever the order of arrival.

An event earlier than its session's start that brings another channel changes the
session's entry channel: it counts as a start under the new channel and as merged
under the replaced one (docs/metrics.md#sessions). Random interleavings of a few
customers' events over several channels, with erasures and withdrawals, must keep
the equation at every step, and each session must end exactly once.
"""

from __future__ import annotations

import random

import pytest

from tests.unit.helpers import MIN, Harness, ev, ms
from tracker.core.contract import CHANNELS

KINDS = ("page_view", "page_view", "interaction", "order", "page_ping", "feedback")


def invariant(h: Harness) -> dict[str, tuple[int, int]]:
    """Channels where the equation fails (the counters and the gauge, read from state)."""
    counters = h.p.aggregates.counters
    off = {}
    for index, channel in enumerate(CHANNELS):
        started = counters.get(f"tracker_sessions_started_total|{channel}", 0)
        ended = h.p.active_sessions.get(index, 0) + sum(
            counters.get(f"tracker_sessions_{outcome}_total|{channel}", 0)
            for outcome in ("closed", "merged", "discarded")
        )
        if started != ended:
            off[channel] = (started, ended)
    return off


SEEDS = range(12)


@pytest.mark.parametrize("seed", SEEDS)
def test_any_order_of_arrival_keeps_every_session_counted_once_per_channel(seed: int) -> None:
    play(seed)


def test_the_shuffles_change_entry_channels_and_erasures_discard_sessions() -> None:
    """Guards the generator: the equation is only tested if both really happen."""
    runs = [play(seed).p.aggregates.counters for seed in SEEDS]
    merged = sum(n for c in runs for k, n in c.items() if k.startswith("tracker_sessions_merged"))
    discarded = sum(n for c in runs for k, n in c.items() if "sessions_discarded" in k)
    assert merged > 10 and discarded > 2


def play(seed: int) -> Harness:
    rng = random.Random(seed)
    h = Harness()
    events = []
    for customer in ("ana", "bob", "cem"):
        t = rng.uniform(0, 10 * MIN)
        for _ in range(rng.randint(3, 9)):
            t += rng.uniform(5, 4 * MIN) if rng.random() < 0.9 else rng.uniform(31, 60) * MIN
            channel = rng.choice(CHANNELS[:4])
            events.append(ev(rng.choice(KINDS), customer, t, channel=channel))
    rng.shuffle(events)  # out of order, within and across sessions
    for event in events:
        if rng.random() < 0.05:  # tracker erase: an open session is discarded
            h.offset += 1
            broker = ms(max(e_at(e) for e in events) + 60)
            h.p.process(event["customer_id"].encode(), b"{}", h.offset, broker, broker, "erase")
        h.send(event, broker_at=max(e_at(e) for e in events) + 60)
        assert invariant(h) == {}
    if rng.random() < 0.5:
        h.send(ev("consent", "ana", 3 * 60 * MIN, analytics=False), broker_at=4 * 60 * MIN)
    assert invariant(h) == {}
    h.close_all()
    assert invariant(h) == {}
    assert sum(h.p.active_sessions.values()) == 0
    return h


def e_at(event: dict[str, object]) -> float:
    from datetime import datetime

    from tests.unit.helpers import T0

    return (datetime.fromisoformat(str(event["occurred_at"])) - T0).total_seconds()
