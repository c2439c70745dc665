"""The golden journeys (tests/data) through the in-process pipeline, 8 partitions as the topic."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.golden import GOLDEN_EXPECTED, GOLDEN_STREAM
from tests.unit.helpers import replay_golden
from tracker.metrics.samples import Sample, total


@pytest.fixture(scope="module")
def golden() -> tuple[list[Sample], list[Sample], dict[str, Any]]:
    # A long idle timeout: the first samples' reference time is the end of the stream.
    at_end, closed = replay_golden(GOLDEN_STREAM)
    return at_end, closed, GOLDEN_EXPECTED


def test_golden_reach_at_the_end_of_the_stream(golden: Any) -> None:
    at_end, _, expected = golden
    for window, n in expected["reach_all_channels"].items():
        assert total(at_end, "tracker_reach", window=window, channel="all") == n, window


def test_golden_event_totals(golden: Any) -> None:
    _, closed, expected = golden
    for event_type, n in expected["events"].items():
        assert total(closed, "tracker_events_total", event_type=event_type) == n, event_type
    assert total(closed, "tracker_events_total") == sum(expected["events"].values())
    for reason, n in expected["events_dropped"].items():
        assert total(closed, "tracker_events_dropped_total", reason=reason) == n, reason
    for channel, n in expected["orders"].items():
        assert total(closed, "tracker_orders_total", channel=channel) == n, channel
    for currency, amount in expected["revenue"].items():
        assert round(total(closed, "tracker_revenue_total", currency=currency), 2) == amount
    for category, n in expected["nps_responses"].items():
        assert total(closed, "tracker_nps_responses_total", category=category) == n
    assert total(closed, "tracker_erasures_total") == expected["erasures"]


@pytest.mark.parametrize(
    "outcome", ["started", "closed", "bounced", "engaged", "interacted", "converted"]
)
def test_golden_session_totals(golden: Any, outcome: str) -> None:
    _, closed, expected = golden
    wanted = expected[f"sessions_{outcome}"]
    for channel, n in wanted.items():
        got = total(closed, f"tracker_sessions_{outcome}_total", channel=channel)
        assert got == n, channel
    assert total(closed, f"tracker_sessions_{outcome}_total") == sum(wanted.values())
