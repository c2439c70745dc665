"""An operator works the DLQ: inspect it, fix the cause, re-drive, purge a person.

Only events that claim consent land whole, under the customer's pseudonym; an
unreadable message leaves a digest; the gauge counts what was written; a redrive
after the fix counts each event once; a purge removes a person's raw events.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from kafka import KafkaProducer

from tracker.metrics.samples import total
from tracker.testing.deployment import Deployment, wait_until

ANNA = "anna.schmidt@example.com"


def event(customer: str, n: int, at: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "event_id": f"{customer}-{n}",
        "event_type": "page_view",
        "customer_id": customer,
        "occurred_at": at.isoformat(),
        "channel": "web",
        "touchpoint": "home",
        "consent": {"analytics": True, "marketing": False},
        **extra,
    }


def _dlq(deployment: Deployment, *args: str) -> dict[str, Any]:
    answer: dict[str, Any] = json.loads(deployment.tracker("dlq", "inspect", *args).stdout)
    return answer


# long: one worker, restarted once with the fix, lives through the whole operator story.
def test_inspect_fix_redrive_and_purge(deployment_factory: Callable[..., Deployment]) -> None:
    deployment = deployment_factory(
        TRACKER_IDLE_TIMEOUT="100000", TRACKER_MAX_MESSAGE_BYTES="4096", TRACKER_MAX_FUTURE="60"
    )
    worker = deployment.worker().start()
    now = datetime.now(UTC) - timedelta(minutes=5)
    big = [event("carl", i, now, properties={"pad": "x" * 600}) for i in range(8)]
    sends = [
        (ANNA, b"{not json"),
        (ANNA, orjson.dumps(event(ANNA, 1, now, channel="fax"))),  # claims consent, invalid
        ("bo", orjson.dumps(event(ANNA, 2, now))),  # Anna's event under Bo's key
        ("carl", orjson.dumps(big)),  # valid but over the size limit
        ("dave", orjson.dumps(event("dave", 1, now + timedelta(minutes=40)))),
        ("eve", orjson.dumps({**event("eve", 1, now, channel="fax"), "consent": None})),
        ("frank", orjson.dumps(event("frank", 1, now))),
    ]
    producer = KafkaProducer(bootstrap_servers=deployment.broker.bootstrap, acks="all")
    for key, value in sends:
        producer.send(deployment.env["TRACKER_TOPIC"], key=key.encode(), value=value)
    producer.flush()
    producer.close()
    wait_until(lambda: total(worker.samples(), "tracker_dlq_records") == 5, 60, "five letters")
    s = worker.samples()
    assert total(s, "tracker_events_dropped_total", reason="no_consent") == 1  # eve
    assert total(s, "tracker_dlq_records", reason="too_large") == 1

    # The worker counts a letter as it is produced; the broker has it a moment later.
    wait_until(lambda: _dlq(deployment)["letters"] == 5, 30, "five letters in the DLQ")
    masked = _dlq(deployment, "--sample", "10")
    assert masked["by_reason"] == {
        "future_timestamp": 1,
        "invalid_event": 1,
        "invalid_json": 1,
        "key_mismatch": 1,
        "too_large": 1,
    }
    assert ANNA not in json.dumps(masked) and "eve-1" not in json.dumps(masked)
    assert ANNA in json.dumps(_dlq(deployment, "--sample", "10", "--show-raw"))

    # The fix: a larger size limit and more tolerance for clocks ahead.
    worker.stop()
    worker.env.update(TRACKER_MAX_MESSAGE_BYTES="1048576", TRACKER_MAX_FUTURE="7200")
    worker.start()
    args = ("dlq", "redrive", "--reason", "too_large", "--reason", "future_timestamp")
    first = deployment.tracker(*args).stdout
    assert "2 letters: 2 re-sent" in first, first
    wait_until(
        lambda: total(worker.samples(), "tracker_events_total") == 1 + 8 + 1,
        60,
        "frank's, carl's and dave's events",
    )
    assert "0 letters: nothing" in deployment.tracker(*args).stdout  # they were tombstoned
    assert _dlq(deployment)["letters"] == 3

    purged = deployment.tracker("dlq", "purge", "--customer", ANNA).stdout
    assert "3 letters" in purged, purged  # by her pseudonym, and by content under Bo's key
    assert _dlq(deployment)["letters"] == 0
    assert total(worker.samples(), "tracker_events_total") == 10  # nothing counted twice
