"""Reliability scenario 7 on real Apache Kafka: identity hand-overs between two workers.

Two workers share the partitions, so most logins link a device on one worker to a
customer on the other: the claim, the hand-over of the device's state and events
forwarded afterwards cross workers through the identity topic. Each worker is
killed (SIGKILL) in turn while hand-overs are in flight, and restarted. The summed
counters must equal the reference pipeline's exactly (docs/identity.md#exactness),
links, merged and discarded sessions included. Left out of the stream: the three
withdrawals that fall near a login of the same person, a race docs/identity.md settles
by order of arrival (the unit crash tests cover it). How every scenario checks:
``tests/integration/reliability_support.py``; the results: RELIABILITY.md.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.kafka_fixtures import kafka_one  # noqa: F401 (fixture)
from tests.integration.reliability_support import (
    PARTITIONS,
    RACE_WINDOW,
    Run,
    dip_after_restart,
    owned_by,
    redeliveries,
    report,
    settled_table,
    without_withdrawals_near_logins,
)
from tracker.kafka.partitioner import partition_for
from tracker.testing.kafka_cluster import KafkaCluster
from tracker.testing.streams import events_of, generated_messages
from tracker.testing.traffic import Message

pytestmark = [pytest.mark.integration, pytest.mark.kafka]


def _logins(messages: list[Message]) -> list[tuple[int, int]]:
    """(customer's partition, device's partition) of every identify in the stream."""
    return [
        (
            partition_for(event["customer_id"].encode(), PARTITIONS),
            partition_for(str(event["anonymous_id"]).encode(), PARTITIONS),
        )
        for _, event in events_of(messages)
        if event.get("event_type") == "identify"
    ]


@pytest.mark.timeout(420)
def test_hand_overs_between_two_workers_survive_kill_9(
    kafka_one: KafkaCluster,  # noqa: F811
    tmp_path: Path,
) -> None:
    rng = random.Random(4707)
    stream = generated_messages(seed=4707, events=20_000, batch=10)
    messages = without_withdrawals_near_logins(stream, within=RACE_WINDOW)
    assert sum(m.events for m in stream) - sum(m.events for m in messages) == 3
    logins = _logins(messages)
    # Four restarts take ~40 s: at 200 messages/s all of them fall within the stream, so
    # the last worker is back and caught up before the other's partitions go idle.
    run = Run(kafka_one, tmp_path, messages, TRACKER_IDLE_TIMEOUT="20")
    assert run.expected["tracker_identity_links_total{}"] > 300
    assert run.expected.get("tracker_sessions_merged_total{channel=web}", 0) > 10
    try:
        workers = [run.worker().start(), run.worker().start()]
        split = owned_by(run.fleet, owners=2)
        owner = {p: index for index, parts in split.items() for p in parts}
        crossing = sum(owner[c] != owner[d] for c, d in logins)
        assert crossing > len(logins) / 4, "logins whose two ids live on different workers"
        producer = run.produce(rate=200)
        kills: list[dict[str, Any]] = []
        for kill in range(4):
            producer.wait_for(0.15 + kill * 0.2 + rng.uniform(0, 0.05))
            victim = workers[kill % 2]
            before = settled_table(run.fleet)
            victim.kill()  # SIGKILL: claims, hand-overs and forwards are in flight
            down = rng.uniform(0, 2)
            time.sleep(down)
            victim.start()
            dip = dip_after_restart(run.fleet, before)
            kills.append(
                {
                    "worker": kill % 2,
                    "at_message": producer.sent,
                    "down_s": round(down, 1),
                    **dip,
                }
            )
        produced_s = producer.finish()
        numbers = run.check(restarts=kills)
        report(
            "7_identity_two_workers",
            kills=kills,
            logins=len(logins),
            logins_across_workers=crossing,
            links=run.expected["tracker_identity_links_total{}"],
            redelivered_and_skipped=sum(redeliveries(w) for w in workers),
            produced_s=round(produced_s, 1),
            **numbers,
        )
    finally:
        run.stop()
