"""Reliability on real Apache Kafka: crashes, rebalances, broker loss, stalls, hostile input, memory.

Every scenario produces a deterministic generated stream at a steady pace while
it disturbs the workers or brokers, then compares the summed ``/metrics`` of all
workers with the pure reference pipeline fed the same messages: every counter
of ``tracker.testing.streams.COUNTERS`` (sessions started/closed/bounced/engaged/
interacted/converted, orders, revenue, events rejected/dropped/late, journeys,
feedback...) exactly, and reach in every window and channel while the stream's
end is still the reference time. Numbers of the last run go to
``test-artifacts/reliability.json``; RELIABILITY.md reports them.

The idle rule follows the wall clock: ``IDLE_TIMEOUT`` is longer than any pause a
scenario causes in a partition's input, so it fires only after the stream, as in
the reference (which closes every session at the end).
"""

from __future__ import annotations

import json
import random
import re
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.integration.conftest import (
    PSEUDONYM_KEY,
    Deployment,
    WorkerProcess,
    make_deployment,
    wait_until,
)
from tests.integration.kafka_fixtures import kafka_one, kafka_three  # noqa: F401 (fixtures)
from tests.integration.reliability_support import (
    Fleet,
    StreamProducer,
    dlq_reasons,
    gauge_table,
    read_dlq,
    reference,
    rejected,
    spawn,
)
from tests.support.hostile import hostile_stream, reused_ids
from tracker.kafka.broker import BrokerHandle
from tracker.metrics.samples import Sample, total
from tracker.settings import Settings
from tracker.testing.kafka_cluster import KafkaCluster
from tracker.testing.population import Population, census, expected_counters, rss_bytes
from tracker.testing.streams import counter_table, differences, generated_messages
from tracker.testing.traffic import Message

# One rerun: these scenarios race real processes on a shared 2-core machine. A rerun that
# passes still proves exact counts on that run; a real exactness bug fails both (see the
# log's RERUN lines, which CI prints).
pytestmark = [pytest.mark.integration, pytest.mark.kafka, pytest.mark.flaky(reruns=1)]

PARTITIONS = 6
IDLE_TIMEOUT = "12"
REPORT = Path(__file__).resolve().parents[2] / "test-artifacts" / "reliability.json"


def report(scenario: str, **numbers: Any) -> None:
    """Merge one scenario's numbers into the report file RELIABILITY.md is written from."""
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(REPORT.read_text()) if REPORT.exists() else {}
    data[scenario] = {"finished": time.strftime("%Y-%m-%d %H:%M:%S"), **numbers}
    REPORT.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


class Run:
    """One scenario: a deployment on a cluster, its stream and the stream's expected metrics."""

    def __init__(
        self,
        cluster: KafkaCluster,
        root: Path,
        messages: list[Message],
        **settings: str,
    ) -> None:
        self.began = time.monotonic()
        self.cluster = cluster
        self.messages = messages
        self.at_end, self.final = reference(messages, PARTITIONS, PSEUDONYM_KEY)
        self.expected = counter_table(self.final)
        self.deployment: Deployment = make_deployment(
            BrokerHandle(cluster.bootstrap),
            root,
            TRACKER_PARTITIONS=str(PARTITIONS),
            TRACKER_IDLE_TIMEOUT=IDLE_TIMEOUT,
            TRACKER_REPLICATION_FACTOR=str(cluster.replication_factor),
            **settings,
        )
        self.fleet = Fleet([], PARTITIONS)

    @property
    def topic(self) -> str:
        return self.deployment.env["TRACKER_TOPIC"]

    def worker(self, **overrides: str) -> WorkerProcess:
        worker = self.deployment.worker(**overrides)
        self.fleet.workers.append(worker)
        return worker

    def produce(self, rate: float) -> StreamProducer:
        producer = StreamProducer(self.cluster.bootstrap, self.topic, self.messages, rate)
        producer.start()
        return producer

    def check(self, catch_up_timeout: float = 180, close_timeout: float = 120) -> dict[str, Any]:
        """Reach at the stream's end, then every counter once all sessions closed."""
        caught = time.monotonic()
        samples = self.fleet.wait_caught_up(self.at_end, catch_up_timeout)
        catch_up_s = time.monotonic() - caught
        reach = differences(gauge_table(samples), gauge_table(self.at_end))
        close_s = self.fleet.wait_for_counters(self.expected, close_timeout)
        assert reach == [], "reach at the stream's end differs"
        return {
            "events": sum(m.events for m in self.messages),
            "messages": len(self.messages),
            "customers": len({m.key for m in self.messages}),
            "sessions_closed": closed_sessions(self.expected),
            "catch_up_s": round(catch_up_s, 1),
            "sessions_closed_after_s": round(close_s, 1),
            "runtime_s": round(time.monotonic() - self.began, 1),
        }

    def stop(self) -> None:
        self.deployment.stop()


def closed_sessions(table: dict[str, float]) -> int:
    return int(sum(v for k, v in table.items() if k.startswith("tracker_sessions_closed_total")))


def decreased(before: dict[str, float], after: dict[str, float]) -> list[str]:
    """Counter series that went down: Prometheus would read each as a counter reset."""
    return [f"{k}: {v} -> {after.get(k, 0)}" for k, v in before.items() if after.get(k, 0) < v]


def settled_table(fleet: Fleet, timeout: float = 60) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        scraped = fleet.scrape()
        if scraped is not None and fleet.settled(scraped):
            return counter_table(s for samples in scraped for s in samples)
        time.sleep(0.25)
    raise AssertionError(f"the fleet did not settle in {timeout}s (owners {fleet.last_owners})")


def all_samples(fleet: Fleet) -> list[Sample]:
    scraped = fleet.scrape()
    assert scraped is not None
    return [s for samples in scraped for s in samples]


# --------------------------------------------------------------------------- 1. crash


def redeliveries(worker: WorkerProcess) -> int:
    """Messages the worker's log says were delivered again and skipped as already applied."""
    found = re.findall(r"skipped (\d+) re-delivered", worker.log_path.read_text(errors="replace"))
    return sum(int(n) for n in found)


@pytest.mark.timeout(300)
def test_worker_killed_repeatedly_counts_exactly(kafka_one: KafkaCluster, tmp_path: Path) -> None:  # noqa: F811
    """kill -9 at random points (once during recovery), restart: nothing lost or doubled."""
    rng = random.Random(4101)
    run = Run(kafka_one, tmp_path, generated_messages(seed=4101, events=30_000, batch=10))
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
                spawn(worker)
                time.sleep(rng.uniform(1, 4))
                worker.kill()
            worker.start()
            ready_s = time.monotonic() - began
            after = settled_table(run.fleet)
            restarts.append(
                {
                    "at_message": producer.sent,
                    "down_s": round(down, 1),
                    "killed_in_recovery": kill == 1,
                    "ready_after_s": round(ready_s, 1),
                }
            )
            assert decreased(before, after) == [], "restored counters went backwards"
        produced_s = producer.finish()
        numbers = run.check()
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


def owned_by(fleet: Fleet, timeout: float = 90) -> dict[int, list[int]]:
    """Once settled: which partitions each running worker (by index in the fleet) exports."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        scraped = fleet.scrape()
        if scraped is not None and fleet.settled(scraped):
            running = fleet.running()
            by_worker: dict[int, list[int]] = {}
            for partition, (index,) in sorted(fleet.last_owners.items()):
                by_worker.setdefault(fleet.workers.index(running[index]), []).append(partition)
            return by_worker
        time.sleep(0.25)
    raise AssertionError(f"the fleet did not settle in {timeout}s (owners {fleet.last_owners})")


@pytest.mark.timeout(300)
def test_scale_out_then_in_keeps_counts_exact(kafka_one: KafkaCluster, tmp_path: Path) -> None:  # noqa: F811
    """A second worker joins mid-stream, then the first leaves gracefully."""
    run = Run(kafka_one, tmp_path, generated_messages(seed=4202, events=30_000, batch=10))
    try:
        first = run.worker().start()
        producer = run.produce(rate=400)
        producer.wait_for(0.3)
        began = time.monotonic()
        second = run.worker().start()
        split = owned_by(run.fleet)
        joined_s = time.monotonic() - began
        assert sorted(split) == [0, 1], f"partitions did not move to the new worker: {split}"
        producer.wait_for(0.65)
        began = time.monotonic()
        first.stop()  # SIGTERM: Faust leaves the group and flushes
        alone = owned_by(run.fleet)
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


@pytest.mark.timeout(300)
def test_paused_worker_beyond_session_timeout(kafka_one: KafkaCluster, tmp_path: Path) -> None:  # noqa: F811
    """SIGSTOP one of two workers longer than the session timeout, then SIGCONT it."""
    pause_s = 9.0  # > TRACKER_BROKER_SESSION_TIMEOUT (6 s), < the idle timeout
    run = Run(kafka_one, tmp_path, generated_messages(seed=4404, events=30_000, batch=10))
    try:
        paused = run.worker().start()
        other = run.worker().start()
        split = owned_by(run.fleet)
        producer = run.produce(rate=400)
        producer.wait_for(0.4)
        assert paused.process is not None
        paused.process.send_signal(signal.SIGSTOP)
        began = time.monotonic()
        time.sleep(pause_s)
        paused.process.send_signal(signal.SIGCONT)
        # It notices it stood still past its membership and restarts itself in place.
        wait_until(paused.ready, 90, "the resumed worker to rejoin")
        after_pause = owned_by(run.fleet)
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


# --------------------------------------------------------------------------- 5. hostile input

TOUCHPOINT_LABELS = ("from_touchpoint", "to_touchpoint", "touchpoint")


def label_values(samples: list[Sample], names: tuple[str, ...]) -> set[str]:
    return {value for _, labels, _ in samples for name, value in labels if name in names}


@pytest.mark.timeout(300)
def test_hostile_input_is_dead_lettered_and_good_events_count(
    kafka_one: KafkaCluster,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Fuzzed garbage between good events: no crash or stall, every reject in the DLQ."""
    good = generated_messages(seed=4505, events=20_000, batch=10)
    messages, kinds = hostile_stream(4505, good)
    run = Run(kafka_one, tmp_path, messages)
    try:
        worker = run.worker().start()
        pid = worker.process.pid if worker.process else None
        producer = run.produce(rate=600)
        produced_s = producer.finish()
        numbers = run.check()
        expected_rejects = rejected(run.expected)
        records = read_dlq(kafka_one.bootstrap, run.topic + "-dlq", sum(expected_rejects.values()))
        raw_reasons = Counter(dict(r.headers)["tracker-reject-reason"].decode() for r in records)
        samples = all_samples(run.fleet)
        series = len(samples)
        touchpoints = label_values(samples, TOUCHPOINT_LABELS)
        actions = label_values(samples, ("action",))
        report(
            "5_hostile_input",
            bad_messages=dict(kinds),
            event_ids_reused=reused_ids(messages),
            dead_letters=dict(raw_reasons),
            series_exported=series,
            touchpoint_labels=sorted(touchpoints),
            produced_s=round(produced_s, 1),
            **numbers,
        )
        assert raw_reasons == expected_rejects, "DLQ records per reason differ from the rejects"
        assert worker.process is not None and worker.process.pid == pid, "the worker restarted"
        log_text = worker.log_path.read_text(errors="replace")
        assert "Crashed" not in log_text, "the agent crashed (Faust restarted it)"
        assert not any(dict(r.headers).get("tracker-value-truncated") for r in records)
        settings = Settings()
        assert touchpoints <= {*settings.touchpoints, "other"}
        assert actions <= {*settings.actions, "other"}
        assert series < 3000, f"{series} series: label cardinality is not bounded"
        invalid_json = {m.value for m in messages if _is_invalid_json(m.value)}
        dead = {r.value for r in records if r.value is not None}
        assert invalid_json <= dead | {b""}, "a malformed message's original bytes are missing"
    finally:
        run.stop()


def _is_invalid_json(value: bytes) -> bool:
    try:
        return not isinstance(orjson.loads(value), dict | list)
    except orjson.JSONDecodeError:
        return True


# --------------------------------------------------------------------------- 6. memory

MEMORY_CUSTOMERS = 100_000  # bench/memory.py runs one million


def state_rows(samples: list[Sample]) -> int:
    return int(total(samples, "tracker_state_rows", table="tracker-state"))


@pytest.mark.timeout(420)
def test_memory_per_customer_and_expiry(kafka_one: KafkaCluster, tmp_path: Path) -> None:  # noqa: F811
    """Distinct customers over 200 days of event time: state expires with tombstones."""
    began = time.monotonic()
    n = MEMORY_CUSTOMERS
    messages = Population(n)
    deployment = make_deployment(
        BrokerHandle(kafka_one.bootstrap),
        tmp_path,
        TRACKER_PARTITIONS=str(PARTITIONS),
        TRACKER_IDLE_TIMEOUT=IDLE_TIMEOUT,
    )
    worker = deployment.worker()
    fleet = Fleet([worker], PARTITIONS)
    try:
        worker.start()
        assert worker.process is not None
        pid = worker.process.pid
        rss_start = rss_bytes(pid)
        producer = StreamProducer(
            kafka_one.bootstrap, deployment.env["TRACKER_TOPIC"], messages, rate=4000
        )
        producer.start()
        timeline: list[tuple[int, int, int]] = []  # (customers applied, state rows, RSS)
        caught: list[Sample] | None = None
        while caught is None:
            assert time.monotonic() - began < 360, f"stalled at {timeline[-1:]}"
            samples = all_samples(fleet)
            applied = int(total(samples, "tracker_sessions_started_total"))
            timeline.append((applied, state_rows(samples), rss_bytes(pid)))
            if applied >= n and fleet.caught_up(fleet.scrape() or []):
                caught = samples
            time.sleep(2)
        produced_s = producer.finish()
        stream_s = time.monotonic() - began
        rss_loaded = rss_bytes(pid)
        peak_rows = max(rows for _, rows, _ in timeline)
        close_s = fleet.wait_for_counters_at_least(expected_counters(n), 120)
        wait_until(lambda: state_rows(all_samples(fleet)) < 100, 60, "expired state to go")
        rss_expired = rss_bytes(pid)
        changelog_topic = f"{deployment.env['TRACKER_WORKER_ID']}-tracker-state-changelog"
        changelog = census(kafka_one.bootstrap, changelog_topic)
        for _ in range(5):  # tombstones still in the worker's producer buffer
            if changelog.tombstoned_customers == n:
                break
            time.sleep(2)
            changelog = census(kafka_one.bootstrap, changelog_topic)
        report(
            "6_memory",
            customers=n,
            messages=len(messages),
            produced_s=round(produced_s, 1),
            processed_per_s=round(n / stream_s),
            rss_start_mb=round(rss_start / 2**20, 1),
            rss_loaded_mb=round(rss_loaded / 2**20, 1),
            rss_after_expiry_mb=round(rss_expired / 2**20, 1),
            rss_peak_mb=round(max(r for *_, r in timeline) / 2**20, 1),
            peak_state_rows=peak_rows,
            timeline_customers_rows_rss_mb=[
                (a, rows, round(rss / 2**20))
                for a, rows, rss in timeline[:: max(1, len(timeline) // 12)]
            ],
            rss_bytes_per_retained_row=round(
                (max(r for *_, r in timeline) - rss_start) / max(peak_rows, 1)
            ),
            changelog_records=changelog.records,
            changelog_bytes_per_customer=round(changelog.bytes_per_customer),
            tombstoned_customers=changelog.tombstoned_customers,
            live_customer_rows=changelog.live_customers,
            sessions_closed_after_s=round(close_s, 1),
            runtime_s=round(time.monotonic() - began, 1),
        )
        # 90 of the 200 days are retained at most: expiry keeps state bounded while streaming.
        assert peak_rows < 0.6 * n, f"state grew to {peak_rows} rows for {n} customers"
        assert changelog.customer_keys == n
        assert changelog.tombstoned_customers == n, "expired customers left rows behind"
    finally:
        deployment.stop()


# --------------------------------------------------------------------------- 3. broker loss


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


@pytest.mark.timeout(360)
def test_broker_loss_on_three_nodes(kafka_three: KafkaCluster, tmp_path: Path) -> None:  # noqa: F811
    """Kill the group's coordinator broker mid-stream, bring it back: exact, no hang."""
    run = Run(kafka_three, tmp_path, generated_messages(seed=4303, events=30_000, batch=10))
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
