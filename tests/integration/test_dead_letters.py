"""Malformed input goes to the dead-letter topic with its reason; the worker keeps going."""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from kafka import KafkaConsumer, KafkaProducer

from tracker.core.pseudonym import Pseudonymizer
from tracker.metrics.samples import total
from tracker.testing.deployment import PSEUDONYM_KEY, Deployment, wait_until


def event(customer: str, event_id: str, at: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "event_id": event_id,
        "event_type": "page_view",
        "customer_id": customer,
        "occurred_at": at.isoformat(),
        "channel": "web",
        "touchpoint": "home",
        "consent": {"analytics": True, "marketing": False},
        **extra,
    }


# long: one worker run checks every reject reason against its dead letter; starting a
# worker per reason would cost a minute each.
def test_bad_input_is_dead_lettered_with_reasons(
    deployment_factory: Callable[..., Deployment],
) -> None:
    deployment = deployment_factory(
        TRACKER_IDLE_TIMEOUT="100000",
        TRACKER_MAX_MESSAGE_BYTES="4096",
        TRACKER_MAX_MESSAGE_EVENTS="5",
    )
    worker = deployment.worker().start()
    topic = deployment.env["TRACKER_TOPIC"]
    bootstrap = deployment.broker.bootstrap
    now = datetime.now(UTC)
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    sends: list[tuple[bytes | None, bytes]] = [
        (b"c-json", b"{not json"),
        (b"c-utf8", b"\xff\xfe\xfd"),
        (b"c-scalar", b"42"),
        (
            b"c-mixed",
            orjson.dumps(
                [
                    event("c-mixed", "m1", now),
                    {"event_type": "page_view", "consent": {"analytics": True}},  # claims it
                    {"event_type": "page_view"},  # no consent: dropped, never a letter
                ]
            ),
        ),
        (b"c-a", orjson.dumps(event("c-b", "k1", now))),
        (b"c-big", orjson.dumps(event("c-big", "b1", now, properties={"x": "y" * 1900})) * 3),
        (b"c-many", orjson.dumps([event("c-many", f"n{i}", now) for i in range(6)])),
        (b"c-future", orjson.dumps(event("c-future", "f1", now + timedelta(hours=1)))),
        (
            b"c-noconsent",
            orjson.dumps(
                event("c-noconsent", "x1", now, consent={"analytics": False, "marketing": False})
            ),
        ),
        (b"c-good", orjson.dumps(event("c-good", "g1", now))),
    ]
    for key, value in sends:
        producer.send(topic, key=key, value=value)
    producer.flush()
    producer.close()

    wait_until(
        lambda: total(worker.samples(), "tracker_events_total") == 2, 60, "the two good events"
    )
    s = worker.samples()
    expected = Counter(
        invalid_json=3, invalid_event=1, key_mismatch=1, too_large=2, future_timestamp=1
    )
    for reason, n in expected.items():
        assert total(s, "tracker_events_rejected_total", reason=reason) == n, reason
    assert total(s, "tracker_events_dropped_total", reason="no_consent") == 2

    consumer = KafkaConsumer(
        f"{topic}-dlq",
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=5000,
    )
    letters = []
    deadline = time.monotonic() + 30
    while sum(1 for _ in letters) < sum(expected.values()) and time.monotonic() < deadline:
        letters.extend(consumer)
    consumer.close()
    reasons = Counter(dict(m.headers)["tracker-reject-reason"].decode() for m in letters)
    assert reasons == expected
    pseudonyms = Pseudonymizer(PSEUDONYM_KEY.encode())
    by_owner = {m.key.split(b"/")[0]: m for m in letters}
    for customer in ("c-json", "c-utf8"):  # consent unreadable: a digest, never the bytes
        digest = orjson.loads(by_owner[pseudonyms.of(customer).encode()].value)
        raw = dict(sends)[customer.encode()]
        assert digest["sha256"] == hashlib.sha256(raw).hexdigest()
        assert digest["size"] == len(raw) and digest["topic"] == topic
    assert orjson.loads(by_owner[pseudonyms.of("c-a").encode()].value)["customer_id"] == "c-b"
    raw_ids = [key for key, _ in sends if key]
    assert not [m.key for m in letters if any(k in m.key for k in raw_ids)], "raw ids as keys"
    assert pseudonyms.of("c-noconsent").encode() not in by_owner, "no consent: no letter"
    assert worker.ready()
