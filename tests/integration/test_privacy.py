"""Privacy end to end: pseudonymous state, erasure that erases, access requests."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kafka.admin import KafkaAdminClient
from kafka.consumer import KafkaConsumer

from tracker.kafka.changelog_codec import unpack
from tracker.kafka.connection import as_connection
from tracker.kafka.dlq import read_letters
from tracker.metrics.samples import total
from tracker.testing.deployment import Deployment, wait_until

EMAIL = re.compile(rb"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+\.[A-Za-z]{2,}")
ANNA = "anna.schmidt@example.com"
BOB = "bob.miller@example.org"
CARL = "carl-7f3a91"
ORDER_IDS = ("ORD-ANNA-0001", "ORD-BOB-0002", "ORD-CARL-0003")


def _event(customer: str, n: int, at: datetime, kind: str = "page_view", **extra: Any) -> str:
    event = {
        "schema_version": 1,
        "event_id": f"{customer}-{n}",
        "event_type": kind,
        "customer_id": customer,
        "occurred_at": at.isoformat(),
        "channel": "web",
        "touchpoint": "product",
        "consent": {"analytics": True, "marketing": True},
        **extra,
    }
    return json.dumps(event)


def _journeys(start: datetime) -> list[str]:
    lines = []
    for i, (customer, order_id) in enumerate(zip((ANNA, BOB, CARL), ORDER_IDS, strict=True)):
        t = start + timedelta(minutes=i)
        lines.append(_event(customer, 1, t, referrer=f"https://mail.example/{customer}"))
        lines.append(
            _event(customer, 2, t + timedelta(seconds=20), "interaction", action="add_to_cart")
        )
        lines.append(
            _event(
                customer,
                3,
                t + timedelta(seconds=40),
                "order",
                order_id=order_id,
                revenue="19.99",
                currency="EUR",
                touchpoint="checkout",
                account_id=f"acct-{i}",  # B2B: a membership in the account stage
            )
        )
    # A dead letter of Anna's (her event claims consent, but is invalid), and events whose
    # consent cannot be read: never stored, never dead-lettered.
    lines.append(_event(ANNA, 9, start, channel="fax"))
    lines.append(_event(BOB, 9, start).replace('{"analytics": true, "marketing": true}', "null"))
    lines.append(_event(CARL, 9, start).replace('{"analytics": true, "marketing": true}', "{}"))
    return lines


def _live_dlq(deployment: Deployment) -> bytes:
    """What a reader of the compacted DLQ sees: the newest letter of each key."""
    connection = as_connection(deployment.broker.bootstrap)
    letters = read_letters(connection, deployment.env["TRACKER_TOPIC"] + "-dlq")
    return b"\n".join(
        x.key.encode() + x.value + "".join(x.headers.values()).encode() for x in letters
    )


def _all_bytes(bootstrap: str, topics: list[str]) -> bytes:
    consumer = KafkaConsumer(
        *topics, bootstrap_servers=bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=4000
    )
    # Changelog values are compressed (tracker/kafka/changelog_codec.py): read as rows.
    chunks = [
        (m.key or b"") + unpack(m.value or b"") + b"".join(v for _, v in m.headers)
        for m in consumer
    ]
    consumer.close()
    return b"\n".join(chunks)


# long: a single story (events, access request, erasure, restart, byte scan) on one
# worker, in the order an operator would live it.
def test_pseudonymous_state_erasure_and_access(
    deployment_factory: Callable[..., Deployment], tmp_path: Path
) -> None:
    deployment = deployment_factory(TRACKER_IDLE_TIMEOUT="100000")
    worker = deployment.worker().start()
    start = datetime.now(UTC) - timedelta(minutes=10)
    stream = tmp_path / "journeys.jsonl"
    stream.write_text("\n".join(_journeys(start)) + "\n")
    deployment.tracker("replay", str(stream))
    wait_until(lambda: total(worker.samples(), "tracker_orders_total") == 3, 60, "three orders")

    wait_until(lambda: ANNA.encode() in _live_dlq(deployment), 30, "Anna's dead letter")

    def inspect() -> dict[str, Any]:
        answer: dict[str, Any] = json.loads(deployment.tracker("inspect", ANNA).stdout)
        return answer

    # The account stage applies Anna's activity after it went through its own topic: in CI
    # it was not yet there when the orders were counted.
    wait_until(
        lambda: [a["counts_the_customer"] for a in inspect()["accounts"]] == [True],
        30,
        "the account stage to count Anna",
    )
    access = inspect()
    assert access["held"] is True
    assert access["open_session"]["orders"] == 1
    assert ANNA not in access["pseudonym_key"]
    assert [a["counts_the_customer"] for a in access["accounts"]] == [True]
    assert access["dead_letters_in_dlq"]["letters"] == 1

    before = worker.samples()
    deployment.tracker("erase", ANNA)
    wait_until(
        lambda: total(worker.samples(), "tracker_erasures_total", reason="request") == 1,
        30,
        "the erasure request to be applied",
    )
    withdrawal = _event(
        BOB, 4, start + timedelta(minutes=5), "consent", touchpoint="consent_banner"
    )
    withdrawal = withdrawal.replace('"analytics": true', '"analytics": false')
    after_anna = _event(ANNA, 5, start + timedelta(minutes=6))  # claims consent, but was erased
    (tmp_path / "later.jsonl").write_text(withdrawal + "\n" + after_anna + "\n")
    deployment.tracker("replay", str(tmp_path / "later.jsonl"))
    wait_until(
        lambda: total(worker.samples(), "tracker_erasures_total", reason="withdrawal") == 1,
        30,
        "the withdrawal",
    )
    wait_until(
        lambda: total(worker.samples(), "tracker_events_dropped_total", reason="no_consent") == 3,
        30,
        "the erased customer's next event to be dropped",
    )
    after = worker.samples()
    for name in (
        "tracker_events_total",
        "tracker_orders_total",
        "tracker_revenue_total",
        "tracker_sessions_started_total",
    ):
        assert total(after, name) == total(before, name), f"{name} changed by an erasure"
    assert total(after, "tracker_reach", window="24h", channel="all") == 1  # only Carl remains

    worker.stop()
    worker.start()
    for customer in (ANNA, BOB):
        restored = json.loads(deployment.tracker("inspect", customer).stdout)
        assert "open_session" not in restored and "last_seen" not in restored, restored
        assert "withdrawal_marker_until" in restored
        assert "accounts" not in restored and restored["dead_letters_in_dlq"]["letters"] == 0
    assert total(worker.samples(), "tracker_reach", window="24h", channel="all") == 1

    bootstrap = deployment.broker.bootstrap
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    topic = deployment.env["TRACKER_TOPIC"]
    group = deployment.env["TRACKER_WORKER_ID"]
    internal = [t for t in admin.list_topics() if t.startswith(group)]
    admin.close()
    assert internal, "the worker's changelog topics exist"
    # Every record of the internal topics and changelogs, superseded ones included; the DLQ
    # as a reader sees it: Anna's letter held her raw event until her erasure tombstoned it
    # (the broker's compaction then removes the old record, see PRIVACY.md).
    at_rest = _all_bytes(bootstrap, internal) + _live_dlq(deployment)
    dlq_log = _all_bytes(bootstrap, [f"{topic}-dlq"])
    for never in (BOB, CARL, "example.org"):  # their unreadable consent: never dead-lettered
        assert never.encode() not in dlq_log, f"{never!r} in the DLQ"
    logs = b"".join(p.log_path.read_bytes() for p in deployment.workers)
    for raw in (ANNA, BOB, CARL, *ORDER_IDS, "example.com", "example.org"):
        assert raw.encode() not in at_rest, f"{raw!r} found in a changelog/internal topic"
        assert raw.encode() not in logs, f"{raw!r} found in the worker's log"
    for blob, where in ((at_rest, "internal topics"), (logs, "worker log")):
        assert not EMAIL.search(blob), f"an e-mail-like string in the {where}"
    assert topic not in internal
