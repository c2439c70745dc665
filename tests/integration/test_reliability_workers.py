"""Reliability scenarios 1, 2 and 4 on real Apache Kafka: workers crash, come and go, stall.

How every scenario checks: ``tests/integration/reliability_support.py``; the
results: RELIABILITY.md.
"""

from __future__ import annotations

import random
import signal
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
    dlq_reasons,
    owned_by,
    read_dlq,
    redeliveries,
    rejected,
    report,
    settled_table,
    without_withdrawals_near_logins,
)
from tracker.testing.deployment import wait_until
from tracker.testing.kafka_cluster import KafkaCluster
from tracker.testing.streams import generated_messages

pytestmark = [pytest.mark.integration, pytest.mark.kafka]


# --------------------------------------------------------------------------- 1. crash


# One rerun, and why it cannot be avoided: this scenario stops a worker's partitions for a
# wall-clock time that rests on the broker's session timeout and on how fast a loaded
# machine restores state, while the idle rule closes sessions after TRACKER_IDLE_TIMEOUT
# (12 s) of quiet input by the wall clock too. A pause that long on a starved machine
# legitimately closes sessions early and the counts differ from the reference; no
# setting removes that race, a longer idle timeout only narrows it. A real exactness
# bug fails the rerun too; pytest prints a RERUN line for every rerun, worth reading.
# (It did: both attempts short by up to 25 % with no lag was Faust dropping messages
# around the rebalance, RELIABILITY.md bug 8, not this race.)
@pytest.mark.flaky(reruns=1)
@pytest.mark.timeout(300)
def test_worker_killed_repeatedly_counts_exactly(kafka_one: KafkaCluster, tmp_path: Path) -> None:  # noqa: F811
    """kill -9 at random points (once during recovery), restart: nothing lost or doubled."""
    rng = random.Random(4101)
    # With logins, less the withdrawals near a login of the same person (a race settled
    # by order of arrival, docs/identity.md#exactness; scenario 7 covers hand-overs).
    stream = generated_messages(seed=4101, events=30_000, batch=10)
    messages = without_withdrawals_near_logins(stream, within=RACE_WINDOW)
    run = Run(kafka_one, tmp_path, messages)
    try:
        worker = run.worker().start()
        producer = run.produce(rate=400)
        restarts: list[dict[str, Any]] = []
        for kill in range(3):
            producer.wait_for(rng.uniform(0.12, 0.3) + kill * 0.22)
            time.sleep(rng.uniform(0, 1))
            before = settled_table(run.fleet)
            worker.kill()  # SIGKILL: no flush, no commit, no leave-group
            down = rng.uniform(0, 2)
            time.sleep(down)
            began = time.monotonic()
            if kill == 1:  # and once more while it is still recovering
                worker.spawn()
                time.sleep(rng.uniform(1, 4))
                worker.kill()
            worker.start()
            ready_s = time.monotonic() - began
            restarts.append(
                {
                    "at_message": producer.sent,
                    "down_s": round(down, 1),
                    "killed_in_recovery": kill == 1,
                    "ready_after_s": round(ready_s, 1),
                    **dip_after_restart(run.fleet, before),
                }
            )
        produced_s = producer.finish()
        numbers = run.check(restarts=restarts)
        records = read_dlq(
            kafka_one.bootstrap, run.topic + "-dlq", sum(rejected(run.expected).values())
        )
        letters = dlq_reasons(records)
        report(
            "1_worker_crash",
            kills=4,
            restarts=restarts,
            produced_s=round(produced_s, 1),
            redelivered_and_skipped=redeliveries(worker),
            dead_letters=dict(letters),
            dead_letters_resent=len(records) - sum(letters.values()),
            **numbers,
        )
        assert letters == rejected(run.expected), "a dead letter was lost"
    finally:
        run.stop()


# --------------------------------------------------------------------------- 2. scale


# No rerun: the join and the graceful leave move partitions within seconds, far below
# the idle timeout, and owned_by waits for the new assignment itself. A difference here is
# a bug to find, such as losing the last writes of a worker stopped with SIGTERM (seen
# with the golden stream: tests/integration/test_golden_pipeline.py).
@pytest.mark.timeout(300)
def test_scale_out_then_in_keeps_counts_exact(kafka_one: KafkaCluster, tmp_path: Path) -> None:  # noqa: F811
    """A second worker joins mid-stream, then the first leaves gracefully."""
    # With logins: hand-overs cross the moving partitions. Less the withdrawals near a
    # login of the same person, a race settled by order of arrival (docs/identity.md).
    stream = generated_messages(seed=4202, events=30_000, batch=10)
    messages = without_withdrawals_near_logins(stream, within=RACE_WINDOW)
    run = Run(kafka_one, tmp_path, messages)
    try:
        first = run.worker().start()
        producer = run.produce(rate=400)
        producer.wait_for(0.3)
        began = time.monotonic()
        second = run.worker().start()
        split = owned_by(run.fleet, owners=2)
        joined_s = time.monotonic() - began
        assert sorted(split) == [0, 1], f"partitions did not move to the new worker: {split}"
        producer.wait_for(0.65)
        began = time.monotonic()
        first.stop()  # SIGTERM: Faust leaves the group and flushes
        # A clean stop: an agent that crashed on its way out left its work half done.
        assert first.crashes() == []
        alone = owned_by(run.fleet, owners=1)
        moved_s = time.monotonic() - began
        assert alone == {1: list(range(PARTITIONS))}
        produced_s = producer.finish()
        numbers = run.check()
        report(
            "2_scale_out_in",
            split_after_join=split,
            join_settled_s=round(joined_s, 1),
            leave_settled_s=round(moved_s, 1),
            redelivered_and_skipped=redeliveries(second),
            produced_s=round(produced_s, 1),
            **numbers,
        )
        assert second.ready()
    finally:
        run.stop()


# --------------------------------------------------------------------------- 4. stall


# One rerun, and why it cannot be avoided: this scenario stops a worker's partitions for a
# wall-clock time that rests on the broker's session timeout and on how fast a loaded
# machine restores state, while the idle rule closes sessions after TRACKER_IDLE_TIMEOUT
# (12 s) of quiet input by the wall clock too. A pause that long on a starved machine
# legitimately closes sessions early and the counts differ from the reference; no
# setting removes that race, a longer idle timeout only narrows it. A real exactness
# bug fails the rerun too; pytest prints a RERUN line for every rerun, worth reading.
# (It did: both attempts short by up to 25 % with no lag was Faust dropping messages
# around the rebalance, RELIABILITY.md bug 8, not this race. And a first attempt 26
# events short with no lag, passed on its rerun, was a real loss too: bug 9. Read events
# missing with no lag as a loss first: this race moves sessions, not events.)
@pytest.mark.flaky(reruns=1)
@pytest.mark.timeout(300)
def test_paused_worker_beyond_session_timeout(kafka_one: KafkaCluster, tmp_path: Path) -> None:  # noqa: F811
    """SIGSTOP one of two workers longer than the session timeout, then SIGCONT it."""
    pause_s = 9.0  # > TRACKER_BROKER_SESSION_TIMEOUT (6 s), < the idle timeout
    # With logins, less the withdrawals near a login of the same person, as scenario 2.
    stream = generated_messages(seed=4404, events=30_000, batch=10)
    messages = without_withdrawals_near_logins(stream, within=RACE_WINDOW)
    run = Run(kafka_one, tmp_path, messages)
    try:
        paused = run.worker().start()
        other = run.worker().start()
        split = owned_by(run.fleet, owners=2)
        producer = run.produce(rate=400)
        producer.wait_for(0.4)
        assert paused.process is not None
        paused.process.send_signal(signal.SIGSTOP)
        began = time.monotonic()
        time.sleep(pause_s)
        paused.process.send_signal(signal.SIGCONT)
        # It notices it stood still past its membership and restarts itself in place.
        wait_until(paused.ready, 90, "the resumed worker to rejoin")
        after_pause = owned_by(run.fleet, owners=2)
        regrouped_s = time.monotonic() - began - pause_s
        assert "restarting in place" in paused.log_path.read_text(errors="replace")
        produced_s = producer.finish()
        numbers = run.check()
        report(
            "4_paused_worker",
            pause_s=pause_s,
            split_before=split,
            split_after_resume=after_pause,
            settled_after_resume_s=round(regrouped_s, 1),
            redelivered_and_skipped=redeliveries(paused) + redeliveries(other),
            produced_s=round(produced_s, 1),
            **numbers,
        )
        assert paused.ready() and other.ready()
    finally:
        run.stop()
