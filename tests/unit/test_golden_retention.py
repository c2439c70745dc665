"""The golden retention stories (tests/data/golden-retention.*) through the in-process pipeline.

The expected figures are worked out by hand; the small counter of
tests/support/retention_counter.py, which imports nothing from the tracker, gives them too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
import pytest

from tests.support.golden import DATA
from tests.support.retention_counter import figures, history
from tests.unit.helpers import DAY, config
from tracker.core.timestamps import to_ms
from tracker.metrics.samples import Sample, total
from tracker.testing.reference import ReferencePipeline

STREAM = DATA / "golden-retention.jsonl"
EXPECTED: dict[str, Any] = orjson.loads((DATA / "golden-retention.expected.json").read_bytes())
LOOKBACK = {"window": "90d"}


def replayed() -> tuple[list[Sample], int, list[tuple[bytes, int]]]:
    """As ``tracker replay`` sends it, read while the reference is the end of the stream."""
    pipe = ReferencePipeline(config(idle_timeout=10 * DAY))
    fed = []
    for line in STREAM.read_bytes().splitlines():
        event = orjson.loads(line)
        broker = to_ms(datetime.fromisoformat(event["occurred_at"]))
        pipe.feed(event["customer_id"].encode(), line, broker, broker)
        fed.append((line, broker))
    ref = max(p.watermark_ms for p in pipe.processors.values())
    return pipe.samples(), ref, fed


@pytest.fixture(scope="module")
def run() -> tuple[list[Sample], int, list[tuple[bytes, int]]]:
    return replayed()


def check(samples: list[Sample], expected: dict[str, Any]) -> None:
    for kind in ("new", "returning"):
        for window, by_channel in expected[kind].items():
            for channel, n in by_channel.items():
                got = total(samples, f"tracker_customers_{kind}", window=window, channel=channel)
                assert got == n, (kind, window, channel)
    for channel, n in expected["lapsed"].items():
        assert total(samples, "tracker_customers_lapsed", channel=channel) == n, channel
    for window, by_channel in expected["lapsed_window"].items():
        for channel, n in by_channel.items():
            got = total(samples, "tracker_customers_lapsed_window", window=window, channel=channel)
            assert got == n, ("lapsed", window, channel)
    names = {
        "repurchase_customers": "tracker_repurchase_customers_by_first_channel_window",
        "repurchase_repeat": "tracker_repurchase_repeat_customers_by_first_channel_window",
        "repurchase_rate": "tracker_repurchase_rate_by_first_channel",
    }
    for key, metric in names.items():
        for channel, n in expected[key].items():
            assert total(samples, metric, **LOOKBACK, channel=channel) == n, (key, channel)


def test_golden_retention_figures(run: tuple[list[Sample], int, Any]) -> None:
    check(run[0], EXPECTED)


def test_the_independent_counter_agrees_with_the_hand_worked_figures(
    run: tuple[list[Sample], int, list[tuple[bytes, int]]],
) -> None:
    _, ref, fed = run
    counted = figures(history(fed), ref, 90 * 86400)
    for kind in ("new", "returning"):
        for window, by_channel in EXPECTED[kind].items():
            for channel, n in by_channel.items():
                assert counted[(kind, window, channel)] == n, (kind, window, channel)
    for channel, n in EXPECTED["lapsed"].items():
        if channel != "all":
            assert counted[("lapsed", channel)] == n, channel
    for channel, n in EXPECTED["repurchase_repeat"].items():
        if channel != "all":
            assert counted[("repeat", channel)] == n, channel
