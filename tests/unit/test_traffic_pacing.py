"""A live producer's rate (``tracker loadgen``, the soak): journeys started by the events
they hold, on the clock passed in."""

from __future__ import annotations

import math
import random

import pytest

from tracker.errors import ConfigError
from tracker.settings import Settings
from tracker.testing.loadgen import owed_events, run_loadgen
from tracker.testing.traffic import TrafficGenerator

START_MS = 1_780_000_000_000


def test_keep_up_starts_journeys_until_their_events_reach_the_count() -> None:
    generator = TrafficGenerator(random.Random(5))
    generator.keep_up(1_000, START_MS)
    started = generator.planned_events
    assert 1_000 <= started < 1_000 + 60  # one journey past the count at most
    generator.keep_up(1_000, START_MS + 100)
    assert generator.planned_events == started  # nothing owed: nothing started


def test_events_sent_follow_the_rate_asked_whatever_the_loop_turns_cost() -> None:
    """Uneven turns of a producer loop (0.1 s, sometimes 0.4 s) deliver the rate asked: the
    journeys' events are counted, not assumed, and time is read, not added per turn."""
    generator = TrafficGenerator(random.Random(5))
    rate, now, turns = 300.0, START_MS, random.Random(1)
    measured_from = START_MS + 300_000  # after the first journeys have run their course
    late = 0
    while now < START_MS + 900_000:
        generator.keep_up(rate * (now - START_MS) / 1000, now)
        for message in generator.due(now, max_batch=10):
            late += message.events if now >= measured_from else 0
        now += 400 if turns.random() < 0.2 else 100
    assert 0.97 < late / 600 / rate < 1.03


def test_keep_up_draws_what_start_journeys_would() -> None:
    """The same seed, the same stream: pacing one journey at a time changes no draw."""
    paced = TrafficGenerator(random.Random(9))
    paced.keep_up(500, START_MS)
    journeys = 1
    while True:  # the fewest journeys started at once that hold 500 events
        plain = TrafficGenerator(random.Random(9))
        plain.start_journeys(journeys, START_MS)
        if plain.planned_events >= 500:
            break
        journeys += 1
    assert plain.planned_events == paced.planned_events
    end = START_MS + 3_600_000
    assert [m.value for m in paced.due(end, 10)] == [m.value for m in plain.due(end, 10)]


def test_after_a_stall_the_producer_catches_up_two_seconds_at_most() -> None:
    assert owed_events(100.0, 10.0, 900) == (1_000.0, 10.0)  # 100 owed: sent
    owed, elapsed = owed_events(100.0, 60.0, 1_000)  # a 50 s stall: 5,000 owed
    assert (owed, elapsed) == (1_200.0, 12.0)  # 200 now; the rest forgiven
    assert owed_events(100.0, elapsed + 1.0, 1_200) == (1_300.0, 13.0)  # steady again


def test_a_rate_that_is_not_a_positive_number_is_refused() -> None:
    for rate in (0.0, -5.0, math.inf, math.nan):
        with pytest.raises(ConfigError, match="positive number of events per second"):
            run_loadgen(Settings(), "127.0.0.1:9", rate, 1.0)
