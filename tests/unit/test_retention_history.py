"""Retention figures on a long generated history, held to an independent counter.

Two months of generated journeys (a small pool of returning customers, so people
come back, order again and lapse) go through the in-process pipeline; at the end
every new, returning, lapsed and repurchase figure equals what
tests/support/retention_counter.py, which imports nothing from the tracker, counts
from the same messages.
"""

from __future__ import annotations

import random

import pytest

from tests.support.retention_counter import CHANNELS, WINDOWS, figures, history
from tests.unit.helpers import DAY, T0_MS, config
from tracker.metrics.samples import Sample, total
from tracker.testing.reference import ReferencePipeline
from tracker.testing.traffic import Message, TrafficGenerator

DAYS, JOURNEYS_PER_DAY, STEP_MS = 60, 80, 10_000


def long_history(seed: int = 5) -> list[Message]:
    generator = TrafficGenerator(
        random.Random(seed), returning_pool=200, malformed_share=0, bot_share=0, login_share=0
    )
    rng = random.Random(seed + 1)
    starts = sorted(
        T0_MS + rng.randrange(DAYS * DAY * 1000) for _ in range(DAYS * JOURNEYS_PER_DAY)
    )
    messages: list[Message] = []
    now, i = T0_MS, 0
    while i < len(starts) or generator.active_journeys:
        while i < len(starts) and starts[i] <= now:
            generator.start_journeys(1, starts[i])
            i += 1
        messages += generator.due(now, max_batch=3)
        now += STEP_MS
        if now > T0_MS + (DAYS + 3) * DAY * 1000:
            break  # what is left are agents' answers days later: not needed here
    return messages


@pytest.fixture(scope="module")
def run() -> tuple[list[Sample], dict[object, int]]:
    messages = long_history()
    pipe = ReferencePipeline(config(), partitions=4)
    for m in messages:
        pipe.feed(m.key, m.value, m.timestamp_ms, m.timestamp_ms)
    pipe.tick(messages[-1].timestamp_ms + 61_000)  # every partition's watermark to the end
    ref = max(p.watermark_ms for p in pipe.processors.values())
    counted = figures(history([(m.value, m.timestamp_ms) for m in messages]), ref, 90 * 86400)
    return pipe.samples(), counted


def test_the_history_has_what_the_figures_are_about(run: tuple[list[Sample], dict]) -> None:
    _, counted = run
    assert counted[("returning", "7d", "all")] > 20
    assert counted[("new", "7d", "all")] > 20
    assert sum(counted[("lapsed", c)] for c in CHANNELS) >= 3
    assert sum(counted[("repeat", c)] for c in CHANNELS) >= 10


@pytest.mark.parametrize("window", sorted(WINDOWS))
def test_new_and_returning_equal_the_independent_count(
    run: tuple[list[Sample], dict], window: str
) -> None:
    samples, counted = run
    for channel in (*CHANNELS, "all"):
        for kind in ("new", "returning"):
            got = total(samples, f"tracker_customers_{kind}", window=window, channel=channel)
            assert got == counted[(kind, window, channel)], (kind, channel)
        lapsed = total(samples, "tracker_customers_lapsed_window", window=window, channel=channel)
        expected = counted[("lapsed_window", window, channel)]
        if channel == "all":
            expected = sum(counted[("lapsed_window", window, c)] for c in CHANNELS)
        assert lapsed == expected, ("lapsed", channel)


def test_lapsed_and_repurchase_by_first_order_channel_equal_the_independent_count(
    run: tuple[list[Sample], dict],
) -> None:
    samples, counted = run
    for channel in CHANNELS:
        assert (
            total(samples, "tracker_customers_lapsed", channel=channel)
            == counted[("lapsed", channel)]
        ), channel
        for name, metric in (
            ("buyers", "tracker_repurchase_customers_by_first_channel_window"),
            ("repeat", "tracker_repurchase_repeat_customers_by_first_channel_window"),
        ):
            got = total(samples, metric, window="90d", channel=channel)
            assert got == counted[(name, channel)], (name, channel)
