"""The golden load-time stories (tests/data/golden-vitals.*) through the in-process pipeline.

The expected totals are worked out by hand; the small counter of
tests/support/vitals_counter.py, which imports nothing from the tracker, gives them too.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.support.golden import DATA
from tests.support.vitals_counter import count
from tests.unit.helpers import replay_golden
from tracker.metrics.samples import Sample

STREAM = DATA / "golden-vitals.jsonl"
EXPECTED: dict[str, Any] = orjson.loads((DATA / "golden-vitals.expected.json").read_bytes())


# Not metrics.samples.total: web vitals have a label called "name".
def of(samples: list[Sample], metric: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(v for n, lab, v in samples if n == metric and wanted <= set(lab))


@pytest.fixture(scope="module")
def closed() -> list[Sample]:
    return replay_golden(STREAM)[1]  # quiet: every session closes


def test_golden_vitals_events_and_sessions(closed: list[Sample]) -> None:
    for event_type, n in EXPECTED["events"].items():
        assert of(closed, "tracker_events_total", event_type=event_type) == n, event_type
    for reason, n in EXPECTED["events_dropped"].items():
        assert of(closed, "tracker_events_dropped_total", reason=reason) == n, reason
    for channel, n in EXPECTED["sessions_started"].items():
        assert of(closed, "tracker_sessions_started_total", channel=channel) == n, channel
    for kind in ("closed", "converted"):
        for lcp_class, n in EXPECTED[f"sessions_{kind}_by_lcp"].items():
            got = of(closed, f"tracker_sessions_{kind}_by_lcp_total", lcp_class=lcp_class)
            assert got == n, (kind, lcp_class)


def test_golden_vitals_histogram(closed: list[Sample]) -> None:
    for key, buckets in EXPECTED["web_vital_buckets"].items():
        name, touchpoint = key.split("|")
        for le, n in buckets.items():
            got = of(closed, "tracker_web_vital_bucket", name=name, touchpoint=touchpoint, le=le)
            assert got == n, (key, le)
    for key, seconds in EXPECTED["web_vital_sums"].items():
        name, touchpoint = key.split("|")
        got = of(closed, "tracker_web_vital_sum", name=name, touchpoint=touchpoint)
        assert got == pytest.approx(seconds), key


def test_the_independent_counter_agrees_with_the_hand_worked_totals() -> None:
    counted = count(STREAM.read_bytes().splitlines())
    assert dict(counted["events"]) == EXPECTED["events"]
    assert {k: counted["closed"][k] for k in EXPECTED["sessions_closed_by_lcp"]} == EXPECTED[
        "sessions_closed_by_lcp"
    ]
    assert {k: counted["converted"][k] for k in EXPECTED["sessions_converted_by_lcp"]} == EXPECTED[
        "sessions_converted_by_lcp"
    ]
    for key, buckets in EXPECTED["web_vital_buckets"].items():
        assert {le: counted["buckets"][key][le] for le in buckets} == buckets, key
    for key, seconds in EXPECTED["web_vital_sums"].items():
        assert counted["sums"][key] == pytest.approx(seconds), key
