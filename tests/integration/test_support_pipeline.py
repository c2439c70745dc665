"""The golden support stories through the real broker and worker: the hand-worked totals.

tests/data/golden-support.* are replayed with ``tracker replay``. The stream lies in
the past, so once the idle rule moves the watermark to the wall clock every ticket
left open is past its 30 days: the open ones of the hand-worked totals are expired.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from tests.support.golden import DATA
from tracker.metrics.samples import total
from tracker.testing.deployment import Deployment, wait_until

STREAM = DATA / "golden-support.jsonl"
EXPECTED: dict[str, Any] = orjson.loads((DATA / "golden-support.expected.json").read_bytes())
SESSIONS = sum(EXPECTED["sessions_started"].values())


def test_golden_support_on_the_real_broker(deployment_factory: Callable[..., Deployment]) -> None:
    deployment = deployment_factory(TRACKER_IDLE_TIMEOUT="2")
    worker = deployment.worker().start()
    deployment.tracker("replay", str(STREAM), "--as-fast-as-possible")
    wait_until(
        lambda: total(worker.samples(), "tracker_sessions_closed_total") == SESSIONS,
        60,
        "every golden support session to close",
    )
    wait_until(
        lambda: total(worker.samples(), "tracker_support_tickets_open") == 0,
        30,
        "the tickets left open to expire",
    )
    s = worker.samples()
    for event_type, n in EXPECTED["events"].items():
        assert total(s, "tracker_events_total", event_type=event_type) == n, event_type
    for reason, n in EXPECTED["events_dropped"].items():
        assert total(s, "tracker_events_dropped_total", reason=reason) == n, reason
    by_channel = {
        "contacts": "tracker_support_contacts_total",
        "opened": "tracker_support_tickets_opened_total",
        "reopened": "tracker_support_tickets_reopened_total",
        "resolved": "tracker_support_tickets_resolved_total",
        "sessions_with_support": "tracker_sessions_with_support_total",
        "sessions_rescued": "tracker_sessions_rescued_total",
    }
    for key, metric in by_channel.items():
        for channel, n in EXPECTED[key].items():
            assert total(s, metric, support_channel=channel) == n, (key, channel)
    for channel, n in EXPECTED["open"].items():
        expired = total(s, "tracker_support_tickets_expired_total", support_channel=channel)
        assert expired == n, channel
    for kind in ("first_response", "resolution"):
        metric = f"tracker_support_{kind}_seconds"
        for channel, buckets in EXPECTED[f"{kind}_buckets"].items():
            for le, n in buckets.items():
                got = total(s, f"{metric}_bucket", support_channel=channel, le=le)
                assert got == n, (kind, channel, le)
        for channel, seconds in EXPECTED[f"{kind}_sums"].items():
            assert total(s, f"{metric}_sum", support_channel=channel) == seconds, (kind, channel)
    csat = "tracker_support_csat_responses_total"
    assert total(s, csat, score="5", support_channel="chat") == 1
    assert total(s, csat) == 1
    assert total(s, "tracker_events_rejected_total") == 0
