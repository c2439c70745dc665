"""The golden experiment stories through the real broker and worker: the hand-worked totals.

tests/data/golden-experiments.* are replayed with ``tracker replay``; once every
session has closed the worker's /metrics give exactly what the unit tier gives.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from tests.support.golden import DATA
from tracker.metrics.samples import total
from tracker.testing.deployment import Deployment, wait_until

STREAM = DATA / "golden-experiments.jsonl"
EXPECTED: dict[str, Any] = orjson.loads((DATA / "golden-experiments.expected.json").read_bytes())


def test_golden_experiments_on_the_real_broker(
    deployment_factory: Callable[..., Deployment],
) -> None:
    deployment = deployment_factory(TRACKER_IDLE_TIMEOUT="2")
    worker = deployment.worker().start()
    deployment.tracker("replay", str(STREAM), "--as-fast-as-possible")
    wait_until(
        lambda: (
            total(worker.samples(), "tracker_sessions_closed_total") == EXPECTED["sessions_closed"]
        ),
        60,
        "every golden experiment session to close",
    )
    s = worker.samples()
    for kind in ("sessions", "conversions"):
        for variant, n in EXPECTED[f"experiment_{kind}"].items():
            assert total(s, f"tracker_experiment_{kind}_total", variant=variant) == n, variant
    for reason, n in EXPECTED["events_rejected"].items():
        assert total(s, "tracker_events_rejected_total", reason=reason) == n, reason
    assert total(s, "tracker_events_dropped_total", reason="no_consent") == 1
    assert total(s, "tracker_experiment_conversion_rate", variant="green") == 0.5
