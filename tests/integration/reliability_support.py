"""Driving the reliability scenarios: a paced producer, the fleet's summed metrics, the DLQ.

The generated stream is produced at a steady pace from a helper thread while
the test's main thread crashes, adds, pauses or stops workers and brokers (a
broker must be restarted from the main thread: it dies with the thread that
started it). Workers export only the partitions they actively own, so the
fleet's metrics are summed only once every input partition is exported by
exactly one worker.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.integration.conftest import WorkerProcess
from tracker.metrics.samples import Sample
from tracker.testing.streams import counter_table, differences
from tracker.testing.traffic import Message

# Gauges that must match too while the stream's end is the reference time (before the
# idle rule moves it): reach, overall and per channel, in every window.
REACH = ("tracker_reach",)
# Counters every input message moves as it is applied, whatever the wall clock does later.
INGEST_COUNTERS = (
    "tracker_events_total",
    "tracker_events_dropped_total",
    "tracker_events_rejected_total",
    "tracker_events_late_total",
    "tracker_orders_total",
)


class StreamProducer(threading.Thread):
    """Produces ``messages`` at ``rate`` messages/s with an idempotent ``acks=all`` producer.

    Idempotence matters: a retried send after a broker loss must not write the
    message twice (the worker would count the copy as a duplicate event id).
    """

    def __init__(
        self, bootstrap: str, topic: str, messages: Sequence[Message], rate: float
    ) -> None:
        super().__init__(name="stream-producer", daemon=True)
        self.bootstrap = bootstrap
        self.topic = topic
        self.messages = messages
        self.rate = rate
        self.sent = 0
        self.error: BaseException | None = None
        self.began = 0.0
        self.elapsed = 0.0

    def run(self) -> None:
        from kafka.producer import KafkaProducer

        try:
            producer = KafkaProducer(
                bootstrap_servers=self.bootstrap.split(","),
                acks="all",
                enable_idempotence=True,
                linger_ms=20,
                request_timeout_ms=5_000,
                delivery_timeout_ms=120_000,
                retry_backoff_ms=200,
            )
            self.began = time.monotonic()
            futures = []
            for index, message in enumerate(self.messages):
                due = self.began + index / self.rate
                pause = due - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                futures.append(
                    producer.send(
                        self.topic,
                        key=message.key,
                        value=message.value,
                        timestamp_ms=message.timestamp_ms,
                    )
                )
                self.sent = index + 1
            producer.flush()
            for future in futures:
                future.get(timeout=60)  # raises if the broker never acknowledged it
            producer.close()
            self.elapsed = time.monotonic() - self.began
        except BaseException as exc:  # reported by finish()
            self.error = exc

    def wait_for(self, fraction: float, timeout: float = 300) -> None:
        """Block until ``fraction`` of the stream has been handed to the producer."""
        target = math.ceil(len(self.messages) * fraction)
        deadline = time.monotonic() + timeout
        while self.sent < target:
            if self.error is not None or not self.is_alive():
                break
            assert time.monotonic() < deadline, f"producer stuck at {self.sent}/{target}"
            time.sleep(0.05)

    def finish(self, timeout: float = 300) -> float:
        """Wait until every message is acknowledged; returns the production time."""
        self.join(timeout)
        assert not self.is_alive(), "the producer did not finish"
        if self.error is not None:
            raise AssertionError(f"producing the stream failed: {self.error!r}") from self.error
        return self.elapsed


@dataclass
class Fleet:
    """The running workers of one deployment, scraped and summed as Prometheus would."""

    workers: list[WorkerProcess]
    partitions: int
    last_owners: dict[int, list[int]] = field(default_factory=dict)

    def running(self) -> list[WorkerProcess]:
        return [w for w in self.workers if w.process is not None and w.process.poll() is None]

    def scrape(self) -> list[list[Sample]] | None:
        """Every running worker's samples, or None while one does not answer."""
        scraped = []
        for worker in self.running():
            status, _ = worker.get("/healthz")
            if status != 200:
                return None
            try:
                scraped.append(worker.samples())
            except AssertionError:
                return None
        return scraped

    def owners(self, scraped: list[list[Sample]]) -> dict[int, list[int]]:
        """Input partition -> the workers that export it (one each, once settled)."""
        owned: dict[int, list[int]] = {}
        for index, samples in enumerate(scraped):
            for name, labels, _ in samples:
                if name == "tracker_watermark_lag_seconds":
                    owned.setdefault(int(dict(labels)["partition"]), []).append(index)
        return owned

    def settled(self, scraped: list[list[Sample]]) -> bool:
        owned = self.last_owners = self.owners(scraped)
        complete = set(owned) == set(range(self.partitions))
        return complete and all(len(ws) == 1 for ws in owned.values())

    def caught_up(self, scraped: list[list[Sample]]) -> bool:
        """Every input partition exported once with no consumer lag left."""
        if not self.settled(scraped):
            return False
        lags = {
            int(dict(labels)["partition"]): value
            for samples in scraped
            for name, labels, value in samples
            if name == "tracker_consumer_lag"
        }
        return set(lags) == set(range(self.partitions)) and not any(lags.values())

    def wait_for_counters(self, expected: dict[str, float], timeout: float) -> float:
        """Wait until the settled fleet's summed counters equal ``expected``; returns seconds.

        On timeout the assertion lists every difference of the last settled scrape.
        """
        began = time.monotonic()
        deadline = began + timeout
        last: dict[str, float] | None = None
        while time.monotonic() < deadline:
            for worker in self.workers:
                if worker.process is not None and worker.process.poll() is not None:
                    raise AssertionError(f"a worker died: {worker.tail()}")
            scraped = self.scrape()
            if scraped is not None and self.settled(scraped):
                last = counter_table(sample for samples in scraped for sample in samples)
                if not differences(last, expected):
                    return time.monotonic() - began
            time.sleep(1)
        problems = differences(last, expected) if last is not None else ["never settled"]
        raise AssertionError(
            f"counters differ after {timeout}s (owners {self.last_owners}):\n  "
            + "\n  ".join(problems[:60])
        )

    def wait_for_counters_at_least(self, expected: dict[str, float], timeout: float) -> float:
        """Wait until the listed counters reach their values; then they must equal them."""
        began = time.monotonic()
        deadline = began + timeout
        while time.monotonic() < deadline:
            scraped = self.scrape()
            if scraped is not None and self.settled(scraped):
                table = counter_table(sample for samples in scraped for sample in samples)
                if all(table.get(k, 0) >= v for k, v in expected.items()):
                    assert {k: table.get(k, 0) for k in expected} == expected
                    return time.monotonic() - began
            time.sleep(1)
        raise AssertionError(f"counters did not reach {expected} in {timeout}s")

    def wait_caught_up(self, at_end: Sequence[Sample], timeout: float) -> list[Sample]:
        """The summed samples once every partition is owned once and every message applied.

        "Applied" is judged by the per-message counters (events counted, dropped,
        rejected, late) reaching the reference's values at the stream's end: the
        workers' ``tracker_consumer_lag`` rests on the high watermark of the last fetch,
        which is stale while Faust has paused a partition, so it can read 0 too early.
        """
        wanted = counter_table(at_end, INGEST_COUNTERS)
        deadline = time.monotonic() + timeout
        last: dict[str, float] = {}
        while time.monotonic() < deadline:
            scraped = self.scrape()
            if scraped is not None and self.settled(scraped):
                samples = [sample for samples in scraped for sample in samples]
                last = counter_table(samples, INGEST_COUNTERS)
                if last == wanted:
                    return samples
            time.sleep(0.5)
        raise AssertionError(
            f"the fleet did not catch up in {timeout}s (owners {self.last_owners}):\n  "
            + "\n  ".join(differences(last, wanted)[:20])
        )


def gauge_table(samples: Sequence[Sample], names: Sequence[str] = REACH) -> dict[str, float]:
    """Gauge samples by name and labels, summed over workers (as ``sum by`` would)."""
    table: dict[str, float] = {}
    for name, labels, value in samples:
        if name in names:
            key = name + "{" + ",".join(f"{k}={v}" for k, v in labels) + "}"
            table[key] = table.get(key, 0.0) + value
    return {k: v for k, v in table.items() if v}


def read_dlq(bootstrap: str, topic: str, expected: int, timeout: float = 60) -> list[Any]:
    """Every record of the dead-letter topic, reading until ``expected`` arrived (or timeout)."""
    from kafka.consumer import KafkaConsumer

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap.split(","),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    records: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
            if len(records) >= expected:
                # One more poll: anything beyond ``expected`` is a duplicate to report.
                for batch in consumer.poll(timeout_ms=1000).values():
                    records.extend(batch)
                break
    finally:
        consumer.close()
    return records


def dlq_reasons(records: Sequence[Any]) -> Counter[str]:
    """Dead letters per reason, each input position once (a re-sent letter is a duplicate)."""
    seen: dict[tuple[bytes, bytes, bytes, bytes], str] = {}
    for record in records:
        headers = dict(record.headers)
        reason = headers["tracker-reject-reason"].decode()
        position = (
            headers["tracker-source-partition"],
            headers["tracker-source-offset"],
            headers["tracker-reject-reason"],
            record.value,  # an array message may hold several rejected items
        )
        seen[position] = reason
    return Counter(seen.values())


def rejected(table: dict[str, float]) -> Counter[str]:
    prefix = "tracker_events_rejected_total{reason="
    return Counter({k[len(prefix) : -1]: int(v) for k, v in table.items() if k.startswith(prefix)})


def reference(
    messages: Sequence[Message], partitions: int, pseudonym_key: str
) -> tuple[list[Sample], list[Sample]]:
    """The pure pipeline's samples at the stream's end and after every session closed."""
    from tracker.core.pipeline_config import PipelineConfig
    from tracker.core.pseudonym import Pseudonymizer
    from tracker.sentiment.scorer import SentimentScorer
    from tracker.settings import Settings
    from tracker.testing.reference import ReferencePipeline

    config = PipelineConfig.from_settings(
        Settings(), Pseudonymizer(pseudonym_key.encode()), SentimentScorer()
    )
    pipeline = ReferencePipeline(config, partitions)
    for message in messages:
        pipeline.feed(message.key, message.value, message.timestamp_ms, message.timestamp_ms)
    at_end = pipeline.samples()
    pipeline.tick(messages[-1].timestamp_ms + 3_600_000 * 24 * 400)
    return at_end, pipeline.samples()


def spawn(worker: WorkerProcess) -> None:
    """Start a worker process without waiting for it to become ready."""
    import subprocess
    import sys

    worker.log_path.parent.mkdir(parents=True, exist_ok=True)
    with worker.log_path.open("ab") as log:
        worker.process = subprocess.Popen(
            [sys.executable, "-m", "tracker", "worker"],
            env=worker.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
