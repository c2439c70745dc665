"""The golden support stories (tests/data/golden-support.*) through the in-process pipeline.

The expected totals are worked out by hand; the small counter of
tests/support/support_counter.py, which imports nothing from the tracker, gives them too.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.support.golden import DATA
from tests.support.support_counter import count
from tests.unit.helpers import replay_golden
from tracker.metrics.samples import Sample, total

STREAM = DATA / "golden-support.jsonl"
EXPECTED: dict[str, Any] = orjson.loads((DATA / "golden-support.expected.json").read_bytes())
BY_CHANNEL = {
    "contacts": "tracker_support_contacts_total",
    "opened": "tracker_support_tickets_opened_total",
    "reopened": "tracker_support_tickets_reopened_total",
    "resolved": "tracker_support_tickets_resolved_total",
    "expired": "tracker_support_tickets_expired_total",
    "open": "tracker_support_tickets_open",
    "sessions_with_support": "tracker_sessions_with_support_total",
    "sessions_rescued": "tracker_sessions_rescued_total",
}


@pytest.fixture(scope="module")
def closed() -> list[Sample]:
    return replay_golden(STREAM)[1]  # quiet: every session closes, no ticket expires


def test_golden_support_events_and_sessions(closed: list[Sample]) -> None:
    for event_type, n in EXPECTED["events"].items():
        assert total(closed, "tracker_events_total", event_type=event_type) == n, event_type
    for reason, n in EXPECTED["events_dropped"].items():
        assert total(closed, "tracker_events_dropped_total", reason=reason) == n, reason
    for channel, n in EXPECTED["sessions_started"].items():
        assert total(closed, "tracker_sessions_started_total", channel=channel) == n, channel
    assert total(closed, "tracker_csat_responses_total") == EXPECTED["csat_responses"]


def test_golden_support_tickets(closed: list[Sample]) -> None:
    for key, metric in BY_CHANNEL.items():
        for channel, n in EXPECTED[key].items():
            assert total(closed, metric, support_channel=channel) == n, (key, channel)
    for key, metric in (("support_csat", "csat"), ("support_ces", "ces")):
        for pair, n in EXPECTED[key].items():
            score, channel = pair.split("|")
            name = f"tracker_support_{metric}_responses_total"
            assert total(closed, name, score=score, support_channel=channel) == n, pair
        assert total(closed, f"tracker_support_{metric}_responses_total") == sum(
            EXPECTED[key].values()
        )


@pytest.mark.parametrize("kind", ["first_response", "resolution"])
def test_golden_support_times(closed: list[Sample], kind: str) -> None:
    metric = f"tracker_support_{kind}_seconds"
    for channel, buckets in EXPECTED[f"{kind}_buckets"].items():
        for le, n in buckets.items():
            got = total(closed, f"{metric}_bucket", support_channel=channel, le=le)
            assert got == n, (channel, le)
    for channel, seconds in EXPECTED[f"{kind}_sums"].items():
        assert total(closed, f"{metric}_sum", support_channel=channel) == seconds, channel


def test_the_independent_counter_agrees_with_the_hand_worked_totals() -> None:
    counted = count(STREAM.read_bytes().splitlines())
    assert dict(counted["events"]) == EXPECTED["events"]
    assert dict(counted["dropped"]) == EXPECTED["events_dropped"]
    assert dict(counted["started"]) == EXPECTED["sessions_started"]
    names = {"sessions_with_support": "with_support", "sessions_rescued": "rescued"}
    for key in BY_CHANNEL:
        if key == "expired":
            continue  # nothing expires in the stream; the counter does not model it
        mine = counted[names.get(key, key)]
        assert {c: mine[c] for c in EXPECTED[key]} == EXPECTED[key], key
    assert dict(counted["support_csat"]) == EXPECTED["support_csat"]
    assert dict(counted["support_ces"]) == EXPECTED["support_ces"]
    for kind, table in (("first_response", "first"), ("resolution", "resolution")):
        for channel, buckets in EXPECTED[f"{kind}_buckets"].items():
            mine = counted[table]["buckets"][channel]
            assert {le: mine[le] for le in buckets} == buckets, (kind, channel)
        assert dict(counted[table]["sums"]) == EXPECTED[f"{kind}_sums"], kind
