"""Reliability scenario 3 on real Apache Kafka: a broker of three dies and comes back.

How every scenario checks: ``tests/integration/reliability_support.py``; the
results: RELIABILITY.md.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.integration.kafka_fixtures import kafka_three  # noqa: F401 (fixture)
from tests.integration.reliability_support import (
    RACE_WINDOW,
    Run,
    redeliveries,
    report,
    without_withdrawals_near_logins,
)
from tracker.testing.deployment import wait_until
from tracker.testing.fleet import Fleet
from tracker.testing.kafka_cluster import KafkaCluster
from tracker.testing.streams import generated_messages

pytestmark = [pytest.mark.integration, pytest.mark.kafka]


def group_coordinator(cluster: KafkaCluster, group: str) -> int:
    """The broker coordinating the consumer group (kafka-python 3's internal async API)."""
    with cluster.admin() as admin:
        return int(admin._manager.run(admin._find_coordinator_id, group))


def processed(fleet: Fleet) -> float:
    """Input messages applied so far, by the summed event, drop and reject counters."""
    scraped = fleet.scrape() or []
    names = (
        "tracker_events_total",
        "tracker_events_dropped_total",
        "tracker_events_rejected_total",
    )
    return sum(v for samples in scraped for n, _, v in samples if n in names)


# One rerun, and why it cannot be avoided: killing the group coordinator stops the worker's input for a
# wall-clock time that rests on how fast the surviving brokers elect a new coordinator
# and leaders on a loaded machine, while the idle rule closes sessions after TRACKER_IDLE_TIMEOUT
# (12 s) of quiet input by the wall clock too. A pause that long on a starved machine
# legitimately closes sessions early and the counts differ from the reference; no
# setting removes that race, a longer idle timeout only narrows it. A real exactness
# bug fails the rerun too; pytest prints a RERUN line for every rerun, worth reading.
@pytest.mark.flaky(reruns=1)
@pytest.mark.timeout(360)
def test_broker_loss_on_three_nodes(kafka_three: KafkaCluster, tmp_path: Path) -> None:  # noqa: F811
    """Kill the group's coordinator broker mid-stream, bring it back: exact, no hang."""
    # With logins: while the victim's partitions stall, a device's event can land on either
    # side of its claim, and counts the same (docs/identity.md#exactness). Less the
    # withdrawals near a login of the same person, a race settled by order of arrival.
    stream = generated_messages(seed=4303, events=30_000, batch=10)
    messages = without_withdrawals_near_logins(stream, within=RACE_WINDOW)
    run = Run(kafka_three, tmp_path, messages)
    try:
        worker = run.worker().start()
        producer = run.produce(rate=400)
        producer.wait_for(0.3)
        victim = group_coordinator(kafka_three, run.deployment.env["TRACKER_WORKER_ID"])
        led = sorted(
            p for p, info in kafka_three.describe_topic(run.topic).items() if info.leader == victim
        )
        before = processed(run.fleet)
        killed = time.monotonic()
        kafka_three.kill_broker(victim)
        wait_until(lambda: processed(run.fleet) > before + 500, 60, "processing to go on")
        resumed_s = time.monotonic() - killed
        time.sleep(max(0.0, 10 - resumed_s))  # run on two brokers for a while
        began = time.monotonic()
        kafka_three.start_broker(victim)
        rejoined_s = time.monotonic() - began
        produced_s = producer.finish()
        numbers = run.check()
        isr = {p: sorted(i.isr) for p, i in kafka_three.describe_topic(run.topic).items()}
        report(
            "3_broker_loss",
            killed_broker=victim,
            killed_was="group coordinator",
            input_partitions_it_led=led,
            processing_resumed_after_s=round(resumed_s, 1),
            broker_restart_s=round(rejoined_s, 1),
            isr_at_end=isr,
            redelivered_and_skipped=redeliveries(worker),
            produced_s=round(produced_s, 1),
            **numbers,
        )
        assert worker.ready()
    finally:
        run.stop()
