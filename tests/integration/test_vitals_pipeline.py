"""The golden load-time stories through the real broker and worker: the hand-worked totals.

tests/data/golden-vitals.* are replayed with ``tracker replay``; once every
session has closed the worker's /metrics give exactly what the unit tier and
the independent counter (tests/support/vitals_counter.py) give.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from tests.support.golden import DATA
from tracker.metrics.samples import Sample
from tracker.testing.deployment import Deployment, wait_until

STREAM = DATA / "golden-vitals.jsonl"
EXPECTED: dict[str, Any] = orjson.loads((DATA / "golden-vitals.expected.json").read_bytes())
CLOSED = sum(EXPECTED["sessions_closed_by_lcp"].values())


def of(samples: list[Sample], metric: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(v for n, lab, v in samples if n == metric and wanted <= set(lab))


def test_golden_vitals_on_the_real_broker(deployment_factory: Callable[..., Deployment]) -> None:
    deployment = deployment_factory(TRACKER_IDLE_TIMEOUT="2")
    worker = deployment.worker().start()
    deployment.tracker("replay", str(STREAM), "--as-fast-as-possible")
    wait_until(
        lambda: of(worker.samples(), "tracker_sessions_closed_by_lcp_total") == CLOSED,
        60,
        "every golden load-time session to close",
    )
    s = worker.samples()
    for event_type, n in EXPECTED["events"].items():
        assert of(s, "tracker_events_total", event_type=event_type) == n, event_type
    for reason, n in EXPECTED["events_dropped"].items():
        assert of(s, "tracker_events_dropped_total", reason=reason) == n, reason
    for kind in ("closed", "converted"):
        for lcp_class, n in EXPECTED[f"sessions_{kind}_by_lcp"].items():
            got = of(s, f"tracker_sessions_{kind}_by_lcp_total", lcp_class=lcp_class)
            assert got == n, (kind, lcp_class)
    for key, buckets in EXPECTED["web_vital_buckets"].items():
        name, touchpoint = key.split("|")
        for le, n in buckets.items():
            got = of(s, "tracker_web_vital_bucket", name=name, touchpoint=touchpoint, le=le)
            assert got == n, (key, le)
    for key, seconds in EXPECTED["web_vital_sums"].items():
        name, touchpoint = key.split("|")
        got = of(s, "tracker_web_vital_sum", name=name, touchpoint=touchpoint)
        assert abs(got - seconds) < 1e-9, key
    assert of(s, "tracker_events_rejected_total") == 0
