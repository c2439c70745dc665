"""The golden stream through a real broker and worker gives exactly the expected totals."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import orjson

from tests.integration.secret_leaks import WITH_UNUSED_SASL_PASSWORD, assert_no_secrets
from tests.support.golden import GOLDEN_EXPECTED, GOLDEN_STREAM
from tracker.core.events import to_ms
from tracker.core.pipeline_config import PipelineConfig
from tracker.core.pseudonym import Pseudonymizer
from tracker.metrics.samples import total
from tracker.sentiment.scorer import SentimentScorer
from tracker.settings import Settings
from tracker.testing.deployment import PSEUDONYM_KEY, Deployment, WorkerProcess, wait_until
from tracker.testing.reference import ReferencePipeline

GOLDEN = GOLDEN_STREAM
EXPECTED = GOLDEN_EXPECTED
COUNTED_EVENTS = sum(EXPECTED["events"].values())
CLOSED_SESSIONS = sum(EXPECTED["sessions_closed"].values())


def _events(worker: WorkerProcess) -> float:
    return total(worker.samples(), "tracker_events_total")


def counted_by_reference(lines: list[str], partitions: int, idle_timeout: float) -> float:
    """``tracker_events_total`` once ``lines`` are applied, by the pure reference pipeline
    configured like the deployment (broker time as ``tracker replay`` sets it).
    """
    settings = Settings(partitions=partitions, idle_timeout=idle_timeout)
    pseudonyms = Pseudonymizer(PSEUDONYM_KEY.encode())
    pipe = ReferencePipeline(
        PipelineConfig.from_settings(settings, pseudonyms, SentimentScorer()), partitions
    )
    for line in lines:
        event = orjson.loads(line)
        broker = to_ms(datetime.fromisoformat(event.get("sent_at") or event["occurred_at"]))
        pipe.feed(event["customer_id"].encode(), line.encode(), broker, broker)
    return total(pipe.samples(), "tracker_events_total")


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
    deployment = deployment_factory(TRACKER_IDLE_TIMEOUT="100000", **WITH_UNUSED_SASL_PASSWORD)
    worker = deployment.worker().start()
    replay(deployment)
    wait_until(lambda: _events(worker) == COUNTED_EVENTS, 60, "all golden events counted")
    assert_event_totals(worker)
    s = worker.samples()
    for window, n in EXPECTED["reach_all_channels"].items():
        assert total(s, "tracker_reach", window=window, channel="all") == n, window
    assert_no_secrets(worker.get("/metrics")[1].decode(), "the worker's /metrics", worker.env)
    log = worker.log_path.read_text(errors="replace")
    assert_no_secrets(log, "the worker's log", worker.env)


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
    first_half = counted_by_reference(lines[:60], partitions=4, idle_timeout=100_000)
    assert 0 < first_half < COUNTED_EVENTS
    deployment = deployment_factory(TRACKER_IDLE_TIMEOUT="100000")
    assert deployment.env["TRACKER_PARTITIONS"] == "4"
    worker = deployment.worker().start()
    replay(deployment, first)
    wait_until(lambda: _events(worker) == first_half, 60, f"the first half's {first_half} events")
    worker.stop()
    worker.start()
    # Exactly the same after the restart: nothing lost, nothing counted twice.
    wait_until(lambda: _events(worker) == first_half, 60, f"{first_half} events after a restart")
    replay(deployment, second)
    wait_until(lambda: _events(worker) == COUNTED_EVENTS, 60, "all golden events counted")
    assert_event_totals(worker)
    s = worker.samples()
    for window, n in EXPECTED["reach_all_channels"].items():
        assert total(s, "tracker_reach", window=window, channel="all") == n, window
