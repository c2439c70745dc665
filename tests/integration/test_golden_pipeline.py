"""The golden stream through a real broker and worker gives exactly the expected totals."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.integration.conftest import EXAMPLES, Deployment, WorkerProcess, wait_until
from tracker.metrics.samples import total

GOLDEN = EXAMPLES / "golden-journeys.jsonl"
EXPECTED: dict[str, Any] = json.loads((EXAMPLES / "golden-journeys.expected.json").read_text())
COUNTED_EVENTS = sum(EXPECTED["events"].values())
CLOSED_SESSIONS = sum(EXPECTED["sessions_closed"].values())


def _events(worker: WorkerProcess) -> float:
    return total(worker.samples(), "tracker_events_total")


def assert_event_totals(worker: WorkerProcess) -> None:
    s = worker.samples()
    for event_type, n in EXPECTED["events"].items():
        assert total(s, "tracker_events_total", event_type=event_type) == n, event_type
    for reason, n in EXPECTED["events_dropped"].items():
        assert total(s, "tracker_events_dropped_total", reason=reason) == n, reason
    for channel, n in EXPECTED["orders"].items():
        assert total(s, "tracker_orders_total", channel=channel) == n, channel
    for currency, amount in EXPECTED["revenue"].items():
        assert round(total(s, "tracker_revenue_total", currency=currency), 2) == amount
    for category, n in EXPECTED["nps_responses"].items():
        assert total(s, "tracker_nps_responses_total", category=category) == n, category
    assert total(s, "tracker_erasures_total") == EXPECTED["erasures"]
    assert total(s, "tracker_events_rejected_total") == 0


def assert_session_totals(worker: WorkerProcess) -> None:
    s = worker.samples()
    for key in (
        "sessions_started",
        "sessions_closed",
        "sessions_bounced",
        "sessions_engaged",
        "sessions_interacted",
        "sessions_converted",
    ):
        for channel, n in EXPECTED[key].items():
            assert total(s, f"tracker_{key}_total", channel=channel) == n, (key, channel)
        assert total(s, f"tracker_{key}_total") == sum(EXPECTED[key].values()), key


def replay(deployment: Deployment, path: Path = GOLDEN) -> None:
    deployment.tracker("replay", str(path), "--as-fast-as-possible")


def test_golden_reach_while_reference_is_end_of_stream(
    deployment_factory: Callable[..., Deployment],
) -> None:
    deployment = deployment_factory(TRACKER_IDLE_TIMEOUT="100000")
    worker = deployment.worker().start()
    replay(deployment)
    wait_until(lambda: _events(worker) == COUNTED_EVENTS, 60, "all golden events counted")
    assert_event_totals(worker)
    s = worker.samples()
    for window, n in EXPECTED["reach_all_channels"].items():
        assert total(s, "tracker_reach", window=window, channel="all") == n, window


def test_golden_sessions_after_idle_close(deployment_factory: Callable[..., Deployment]) -> None:
    deployment = deployment_factory(TRACKER_IDLE_TIMEOUT="2")
    worker = deployment.worker().start()
    replay(deployment)
    wait_until(
        lambda: total(worker.samples(), "tracker_sessions_closed_total") == CLOSED_SESSIONS,
        60,
        "every golden session to close",
    )
    assert_event_totals(worker)
    assert_session_totals(worker)
    assert total(worker.samples(), "tracker_sessions_active") == 0


def test_restart_continues_counts_without_double_counting(
    deployment_factory: Callable[..., Deployment], tmp_path: Path
) -> None:
    lines = GOLDEN.read_text().splitlines()
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_text("\n".join(lines[:60]) + "\n")
    second.write_text("\n".join(lines[60:]) + "\n")
    deployment = deployment_factory(TRACKER_IDLE_TIMEOUT="100000")
    worker = deployment.worker().start()
    replay(deployment, first)
    wait_until(lambda: _events(worker) > 0, 60, "first half counted")
    counted_before = _events(worker)
    time.sleep(2)  # let the first half finish and a flush pass
    assert _events(worker) >= counted_before
    worker.stop()
    worker.start()
    assert _events(worker) >= counted_before, "counters must continue after a restart"
    replay(deployment, second)
    wait_until(lambda: _events(worker) == COUNTED_EVENTS, 60, "all golden events counted")
    assert_event_totals(worker)
    s = worker.samples()
    for window, n in EXPECTED["reach_all_channels"].items():
        assert total(s, "tracker_reach", window=window, channel="all") == n, window
