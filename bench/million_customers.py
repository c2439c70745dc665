"""One million distinct customers through one worker on Apache Kafka: memory and expiry.

The full-size run of reliability scenario 6 (the test runs 50,000 customers):
``tracker.testing.population`` customers arrive evenly over 200 days of event time
ending 100 days ago, so while the stream runs every customer's state expires 90
days (of event time) after its last event, and the rest once the idle rule moves
the watermark to now. Samples resident memory and the worker's
``tracker_state_rows`` while it runs, then reads the state changelog: bytes per
customer row and one tombstone per customer.

    python -m bench.million_customers                 # 1,000,000 customers (~15-20 min)
    python -m bench.million_customers --customers 200000

Writes ``test-artifacts/million-customers.json`` and prints a summary.
Needs the Kafka jars (``scripts/fetch-kafka.sh``) and Java 17.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from tracker.kafka.broker import BrokerHandle
from tracker.metrics.samples import Sample, total
from tracker.testing.deployment import make_deployment
from tracker.testing.fleet import Fleet
from tracker.testing.kafka_cluster import KafkaCluster
from tracker.testing.population import Population, census, expected_counters, rss_bytes
from tracker.testing.stream_producer import StreamProducer

OUT = Path(__file__).resolve().parents[1] / "test-artifacts" / "million-customers.json"
PARTITIONS = 6


def run(customers: int, rate: float, workdir: Path) -> dict[str, Any]:
    began = time.monotonic()
    messages = Population(customers)
    with KafkaCluster(
        workdir / "kafka", brokers=1, extra_config={"log.retention.ms": "-1"}
    ) as kafka:
        deployment = make_deployment(
            BrokerHandle(kafka.bootstrap),
            workdir,
            TRACKER_PARTITIONS=str(PARTITIONS),
            TRACKER_IDLE_TIMEOUT="15",
        )
        worker = deployment.worker()
        fleet = Fleet([worker], PARTITIONS)
        try:
            worker.start()
            assert worker.process is not None
            pid = worker.process.pid
            rss_start = rss_bytes(pid)
            producer = StreamProducer(
                kafka.bootstrap, deployment.env["TRACKER_TOPIC"], messages, rate
            )
            producer.start()
            started = time.monotonic()
            timeline = _sample_until_applied(fleet, pid, customers)
            stream_s = time.monotonic() - started
            producer.finish()
            rss_loaded = rss_bytes(pid)
            fleet.wait_for_counters_at_least(expected_counters(customers), 300)
            _wait_for_expiry(fleet, timeout=300)
            expired_s = time.monotonic() - started - stream_s
            rss_expired = rss_bytes(pid)
            topic = f"{deployment.env['TRACKER_WORKER_ID']}-tracker-state-changelog"
            changelog = census(kafka.bootstrap, topic, timeout=900)
            if changelog.tombstoned_customers < changelog.customer_keys:
                time.sleep(10)  # the last tombstones were still in the producer buffer
                changelog = census(kafka.bootstrap, topic, timeout=900)
        finally:
            deployment.stop()
    peak_rows = max(p["state_rows"] for p in timeline)
    peak_rss = max(p["rss_mb"] for p in timeline)
    return {
        "customers": customers,
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
        "processed_per_s": round(customers / stream_s),
        "rss_start_mb": round(rss_start / 2**20, 1),
        "rss_peak_mb": peak_rss,
        "rss_loaded_mb": round(rss_loaded / 2**20, 1),
        "rss_after_expiry_mb": round(rss_expired / 2**20, 1),
        "all_closed_and_expired_after_s": round(expired_s, 1),
        "peak_state_rows": peak_rows,
        "rss_bytes_per_retained_row": round((peak_rss * 2**20 - rss_start) / max(peak_rows, 1)),
        "changelog_records": changelog.records,
        "changelog_bytes_per_customer": round(changelog.bytes_per_customer),
        "customer_keys": changelog.customer_keys,
        "tombstoned_customers": changelog.tombstoned_customers,
        "timeline": timeline,
        "runtime_s": round(time.monotonic() - began, 1),
    }


def _summed(fleet: Fleet) -> list[Sample]:
    return [s for part in fleet.scrape() or [] for s in part]


def _sample_until_applied(fleet: Fleet, pid: int, customers: int) -> list[dict[str, float]]:
    """Customers applied, state rows and resident memory every 10 s until the stream is in."""
    timeline: list[dict[str, float]] = []
    started = time.monotonic()
    while True:
        scraped = fleet.scrape() or []
        samples = [s for part in scraped for s in part]
        applied = total(samples, "tracker_sessions_started_total")
        timeline.append(
            {
                "s": round(time.monotonic() - started, 1),
                "customers": applied,
                "state_rows": total(samples, "tracker_state_rows", table="tracker-state"),
                "rss_mb": round(rss_bytes(pid) / 2**20, 1),
            }
        )
        print(timeline[-1], flush=True)
        if applied >= customers and fleet.caught_up(scraped):
            return timeline
        time.sleep(10)


def _wait_for_expiry(fleet: Fleet, timeout: float) -> None:
    """Until fewer than 100 state rows are left (the aggregates), or the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        rows = total(_summed(fleet), "tracker_state_rows", table="tracker-state")
        if rows < 100 or time.monotonic() > deadline:
            return
        time.sleep(2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=3000, help="messages/s produced")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="million-") as tmp:
        result = run(args.customers, args.rate, Path(tmp))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    summary = {k: v for k, v in result.items() if k != "timeline"}
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
