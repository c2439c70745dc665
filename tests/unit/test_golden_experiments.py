"""The golden experiment stories (tests/data/golden-experiments.*) through the in-process pipeline.

The expected totals are worked out by hand (the file's ``_comment`` says how); the
real-broker test (tests/integration/test_experiments_pipeline.py) holds the worker to them.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.support.golden import DATA
from tests.unit.helpers import replay_golden
from tracker.metrics.samples import Sample, total

STREAM = DATA / "golden-experiments.jsonl"
EXPECTED: dict[str, Any] = orjson.loads((DATA / "golden-experiments.expected.json").read_bytes())


@pytest.fixture(scope="module")
def closed() -> list[Sample]:
    return replay_golden(STREAM)[1]  # quiet: every session closes


def test_golden_experiments_events(closed: list[Sample]) -> None:
    for event_type, n in EXPECTED["events"].items():
        assert total(closed, "tracker_events_total", event_type=event_type) == n, event_type
    for reason, n in EXPECTED["events_dropped"].items():
        assert total(closed, "tracker_events_dropped_total", reason=reason) == n, reason
    for reason, n in EXPECTED["events_rejected"].items():
        assert total(closed, "tracker_events_rejected_total", reason=reason) == n, reason
    assert total(closed, "tracker_sessions_closed_total") == EXPECTED["sessions_closed"]


def test_golden_experiments_sessions_and_conversions(closed: list[Sample]) -> None:
    for kind in ("sessions", "conversions"):
        for variant, n in EXPECTED[f"experiment_{kind}"].items():
            got = total(closed, f"tracker_experiment_{kind}_total", variant=variant)
            assert got == n, (kind, variant)
    # control 1/2, green 1/2: no difference. blue 0/1 against control 1/2: pooled 1/3,
    # se = sqrt(1/3 * 2/3 * (1/2 + 1)) = 0.5774, z = 0.5 / 0.5774 = 0.866, p = 0.3865.
    rates = {
        v: total(closed, "tracker_experiment_conversion_rate", variant=v)
        for v in ("control", "green", "blue")
    }
    assert rates == {"control": 0.5, "green": 0.5, "blue": 0.0}
    assert total(closed, "tracker_experiment_p_value", variant="green") == 1.0
    assert total(closed, "tracker_experiment_p_value", variant="blue") == pytest.approx(
        0.3865, abs=1e-4
    )
