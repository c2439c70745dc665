"""Reliability scenario 6 on real Apache Kafka: many distinct customers, bounded state.

How every scenario checks: ``tests/integration/reliability_support.py``; the
results: RELIABILITY.md. No rerun: one worker reads a fixed stream, no
disturbance pauses its input, and every wait has a deadline (a machine starved
of CPU for longer than the idle timeout fails it, rerun or not); the stream's
wait fails on a worker that stops, not on a slow one.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.kafka_fixtures import kafka_one  # noqa: F401 (fixture)
from tests.integration.reliability_support import IDLE_TIMEOUT, PARTITIONS, report
from tracker.kafka.broker import BrokerHandle
from tracker.metrics.samples import Sample, total
from tracker.stream.memory_report import sized_parts
from tracker.testing.deployment import WorkerProcess, make_deployment, wait_until
from tracker.testing.fleet import Fleet
from tracker.testing.kafka_cluster import KafkaCluster
from tracker.testing.population import (
    ChangelogCensus,
    Population,
    census,
    expected_counters,
    rss_bytes,
)
from tracker.testing.stream_producer import StreamProducer

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

MEMORY_CUSTOMERS = 50_000  # enough to see state level off; bench/million_customers.py runs 1M
STALL_S = 90.0  # no customer applied for this long: the worker is stuck, not slow
Timeline = tuple[int, int, int]  # customers applied, state rows, resident bytes
Parts = tuple[int, dict[str, int]]  # customers applied, /debug/memory's sized parts


def state_rows(samples: list[Sample]) -> int:
    return int(total(samples, "tracker_state_rows", table="tracker-state"))


def summed(fleet: Fleet) -> list[Sample] | None:
    """The fleet's samples, or None while a worker is too busy to answer a scrape in time."""
    scraped = fleet.scrape()
    return None if scraped is None else [s for samples in scraped for s in samples]


def stream_through(
    fleet: Fleet, pid: int, customers: int, deadline: float, parts: list[Parts]
) -> list[Timeline]:
    """Sample (customers applied, state rows, RSS) every 2 s until the stream is applied,
    and into ``parts`` what ``/debug/memory`` counts (a new count every ``FRESH_FOR_S``).

    Fails when the worker stops making progress for ``STALL_S``, not when it is slow: this
    machine's speed varies several-fold between hours (BENCHMARKS.md), and speed is the
    benchmark's to measure. ``deadline`` only bounds a worker that crawls forever.
    """
    timeline: list[Timeline] = []
    progressed = time.monotonic()
    while True:
        now = time.monotonic()
        assert now < deadline, f"not done by the deadline: {timeline[-1:]}"
        assert now - progressed < STALL_S, f"no progress for {STALL_S:.0f}s: {timeline[-1:]}"
        samples = summed(fleet)
        if samples is not None:
            applied = int(total(samples, "tracker_sessions_started_total"))
            if not timeline or applied > timeline[-1][0]:
                progressed = time.monotonic()
            timeline.append((applied, state_rows(samples), rss_bytes(pid)))
            counted = memory_parts(fleet.workers[0])
            if counted is not None and counted["age_s"] == 0:
                parts.append((applied, sized_parts(counted)))
            if applied >= customers and fleet.caught_up(fleet.scrape() or []):
                return timeline
        time.sleep(2)


def memory_parts(worker: WorkerProcess) -> dict[str, Any] | None:
    """The worker's ``/debug/memory``, or None while it is too busy to answer in time."""
    status, body = worker.get("/debug/memory")
    if status == 0:
        return None
    assert status == 200, (status, body[:200])
    parts: dict[str, Any] = json.loads(body)
    return parts


def answered(worker: WorkerProcess, timeout: float = 30) -> dict[str, Any]:
    """``/debug/memory``, asked until a busy worker answers."""
    deadline = time.monotonic() + timeout
    while (parts := memory_parts(worker)) is None:
        assert time.monotonic() < deadline, f"no answer from /debug/memory in {timeout:.0f}s"
        time.sleep(1)
    return parts


def loaded_parts(worker: WorkerProcess, customers_sent: int) -> dict[str, Any]:
    """``/debug/memory`` of a worker holding state: every part it counts is there."""
    parts = answered(worker)
    customers = parts["tables"]["tracker-state"]["customer"]
    assert 0 < customers["rows"] <= customers_sent, (customers, customers_sent)
    assert customers["bytes"] > 100 * customers["rows"], customers
    assert parts["histograms"]["minutes"] > 0 and parts["pseudonyms"]["entries"] > 0, parts
    return parts


def no_customer_left(worker: WorkerProcess) -> None:
    """Once every customer expired, ``/debug/memory`` counts no customer's row (a new
    count at most every ``FRESH_FOR_S``: the wait allows a few)."""

    def gone() -> bool:
        customers = answered(worker)["tables"]["tracker-state"]["customer"]
        return bool(customers["rows"] == 0 and customers["bytes"] == 0)

    wait_until(gone, 30, "/debug/memory to count no customer's row once all expired")


def tombstoned(bootstrap: str, topic: str, customers: int, timeout: float = 30) -> ChangelogCensus:
    """The changelog once it holds a tombstone per customer (the last ones may still sit in
    the worker's producer buffer when the rows are gone), or as it is at the deadline.
    """
    deadline = time.monotonic() + timeout
    changelog = census(bootstrap, topic)
    while changelog.tombstoned_customers < customers and time.monotonic() < deadline:
        time.sleep(2)
        changelog = census(bootstrap, topic)
    return changelog


def mib(sizes: dict[str, int]) -> dict[str, float]:
    return {name: round(size / 2**20, 1) for name, size in sizes.items() if size >= 2**16}


def parts_numbers(parts: list[Parts], timeline: list[Timeline]) -> dict[str, object]:
    """What grew from the rows' plateau (98% of their peak) to the stream's end."""
    if not parts:
        return {}
    peak_rows = max(rows for _, rows, _ in timeline)
    plateau = next(applied for applied, rows, _ in timeline if rows >= 0.98 * peak_rows)
    at_plateau = next((p for p in parts if p[0] >= plateau), parts[-1])
    grew = {k: v - at_plateau[1].get(k, 0) for k, v in parts[-1][1].items()}
    return {
        "parts_at_plateau_mb": (at_plateau[0], mib(at_plateau[1])),
        "parts_at_end_mb": (parts[-1][0], mib(parts[-1][1])),
        "parts_growth_after_plateau_mb": mib({k: v for k, v in grew.items() if v > 0}),
    }


def timeline_numbers(timeline: list[Timeline], rss_start: int) -> dict[str, object]:
    peak_rows = max(rows for _, rows, _ in timeline)
    peak_rss = max(rss for *_, rss in timeline)
    return {
        "rss_peak_mb": round(peak_rss / 2**20, 1),
        "peak_state_rows": peak_rows,
        "timeline_customers_rows_rss_mb": [
            (a, rows, round(rss / 2**20))
            for a, rows, rss in timeline[:: max(1, len(timeline) // 12)]
        ],
        "rss_bytes_per_retained_row": round((peak_rss - rss_start) / max(peak_rows, 1)),
    }


# long: one worker streams, expires and reports in order; each step waits on the last,
# and starting the stream again for each check would take minutes.
@pytest.mark.timeout(1080)  # ~3 min on a slow hour (100,000 customers: 6.6 min)
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
        topic = deployment.env["TRACKER_TOPIC"]
        producer = StreamProducer(kafka_one.bootstrap, topic, messages, rate=4000)
        producer.start()
        parts: list[Parts] = []
        timeline = stream_through(fleet, pid, n, began + 840, parts)
        produced_s = producer.finish()
        stream_s = time.monotonic() - began
        rss_loaded = rss_bytes(pid)
        peak_rows = max(rows for _, rows, _ in timeline)
        loaded = loaded_parts(worker, n)
        close_s = fleet.wait_for_counters_at_least(expected_counters(n), 120)
        wait_until(
            lambda: (samples := summed(fleet)) is not None and state_rows(samples) < 100,
            60,
            "expired state to go",
        )
        rss_expired = rss_bytes(pid)
        no_customer_left(worker)
        changelog_topic = f"{deployment.env['TRACKER_WORKER_ID']}-tracker-state-changelog"
        changelog = tombstoned(kafka_one.bootstrap, changelog_topic, n)
        report(
            "6_memory",
            customers=n,
            messages=len(messages),
            produced_s=round(produced_s, 1),
            processed_per_s=round(n / stream_s),
            rss_start_mb=round(rss_start / 2**20, 1),
            rss_loaded_mb=round(rss_loaded / 2**20, 1),
            rss_after_expiry_mb=round(rss_expired / 2**20, 1),
            **timeline_numbers(timeline, rss_start),
            changelog_records=changelog.records,
            changelog_bytes_per_customer=round(changelog.bytes_per_customer),
            tombstoned_customers=changelog.tombstoned_customers,
            live_customer_rows=changelog.live_customers,
            sessions_closed_after_s=round(close_s, 1),
            memory_parts_loaded_mb=mib(sized_parts(loaded)),
            **parts_numbers(parts, timeline),
            runtime_s=round(time.monotonic() - began, 1),
        )
        # 90 of the 200 days are retained at most: expiry keeps state bounded while streaming.
        assert peak_rows < 0.6 * n, f"state grew to {peak_rows} rows for {n} customers"
        assert changelog.customer_keys == n
        assert changelog.tombstoned_customers == n, "expired customers left rows behind"
    finally:
        deployment.stop()
