"""One reliability scenario on real Apache Kafka: its deployment, stream, expected metrics, report.

Every scenario produces a deterministic generated stream at a steady pace while
it disturbs the workers or brokers, then compares the summed ``/metrics`` of all
workers with the pure reference pipeline fed the same messages: every counter
of ``tracker.testing.streams.COUNTERS`` (sessions started/closed/bounced/engaged/
interacted/converted, orders, revenue, events rejected/dropped/late, journeys,
feedback...) exactly, but for at most ``ENTRY_CHANGES_ACCEPTED`` sessions an
out-of-order device page restarted under another channel (``Run._check``), and reach
in every window and channel while the stream's end is still the reference time. Numbers of the last run go to
``test-artifacts/reliability.json``; RELIABILITY.md reports them.

The idle rule follows the wall clock: ``IDLE_TIMEOUT`` is longer than any pause a
scenario means to cause in a partition's input, so it fires only after the
stream, as in the reference (which closes every session at the end).
"""

from __future__ import annotations

import json
import re
import time
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson

from tracker.kafka.broker import BrokerHandle
from tracker.metrics.samples import Sample
from tracker.testing.deployment import PSEUDONYM_KEY, Deployment, WorkerProcess, make_deployment
from tracker.testing.fleet import Fleet, gauge_table
from tracker.testing.kafka_cluster import KafkaCluster
from tracker.testing.stream_producer import StreamProducer
from tracker.testing.streams import (
    counter_table,
    differences,
    entry_changes,
    events_of,
    without_entry_changes,
)
from tracker.testing.traffic import Message

PARTITIONS = 6
IDLE_TIMEOUT = "12"
# Messages either side of a login within which a withdrawal of the same person is left out
# of the streams (``without_withdrawals_near_logins``): a hand-over stays in flight while
# a killed worker restarts and drains its backlog, seen up to ~4,700 messages (scenario 1).
RACE_WINDOW = 6_000
# At most this many sessions per run may count started and merged once more under one
# channel (``entry_changes``). The race showed one session at a time: once in 3 local runs
# of scenario 1, and in 4 of 192 stalls of the pure model (a sweep run by hand on 6 Dec).
# More is a pattern worth finding, and fails.
ENTRY_CHANGES_ACCEPTED = 2
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
            TRACKER_REPLICATION_FACTOR=str(cluster.replication_factor),
            **{"TRACKER_IDLE_TIMEOUT": IDLE_TIMEOUT, **settings},
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

    def check(
        self,
        catch_up_timeout: float = 180,
        close_timeout: float = 120,
        restarts: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Reach at the stream's end, then every counter once all sessions closed.

        ``restarts``: what the scenario did (kills, dips), added to a failure's message.
        """
        try:
            return self._check(catch_up_timeout, close_timeout)
        except AssertionError as exc:
            if restarts is not None:
                exc.add_note(f"restarts: {json.dumps(restarts)}")
            changes = entry_changes(self.fleet.last_counters, self.expected)
            if changes:  # over the cap they stay differences: say why
                accepted = ENTRY_CHANGES_ACCEPTED
                exc.add_note(f"entry changes by arrival: {changes} (at most {accepted} accepted)")
            raise

    def _check(self, catch_up_timeout: float, close_timeout: float) -> dict[str, Any]:
        caught = time.monotonic()
        samples = self.fleet.wait_caught_up(self.at_end, catch_up_timeout)
        catch_up_s = time.monotonic() - caught
        reach = differences(gauge_table(samples), gauge_table(self.at_end))
        # Sessions an out-of-order device page restarted under another entry channel are
        # settled by order of arrival, which no reference can say (``entry_changes``).
        close_s = self.fleet.wait_for_counters(
            self.expected, close_timeout, adjust=_accepted_entry_changes
        )
        changes = entry_changes(self.fleet.last_counters, self.expected)
        if changes:  # in pytest's warnings summary, so a passing run still shows it
            warnings.warn(f"accepted entry changes by arrival: {changes}", stacklevel=3)
        assert reach == [], "reach at the stream's end differs:\n  " + "\n  ".join(reach[:20])
        return {
            "events": sum(m.events for m in self.messages),
            "messages": len(self.messages),
            "customers": len({m.key for m in self.messages}),
            "sessions_closed": closed_sessions(self.expected),
            "catch_up_s": round(catch_up_s, 1),
            "sessions_closed_after_s": round(close_s, 1),
            "entry_changes_by_arrival": {k.strip("{}"): n for k, n in changes.items()},
            "runtime_s": round(time.monotonic() - self.began, 1),
        }

    def stop(self) -> None:
        self.deployment.stop()


def _accepted_entry_changes(
    actual: dict[str, float], expected: dict[str, float]
) -> dict[str, float]:
    return without_entry_changes(actual, expected, at_most=ENTRY_CHANGES_ACCEPTED)


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


def redeliveries(worker: WorkerProcess) -> int:
    """Messages the worker's log says were delivered again and skipped as already applied."""
    found = re.findall(r"skipped (\d+) re-delivered", worker.log_path.read_text(errors="replace"))
    return sum(int(n) for n in found)


def owned_by(fleet: Fleet, owners: int, timeout: float = 90) -> dict[int, list[int]]:
    """Which partitions each worker (by index in the fleet) exports, once ``owners`` workers
    share them, each partition exported once.

    Waiting for the number of owners, not just a settled fleet: a worker is ready
    before the group's rebalance hands it partitions, and until then the others'
    old assignment looks settled too.
    """
    deadline = time.monotonic() + timeout
    by_worker: dict[int, list[int]] = {}
    while time.monotonic() < deadline:
        running = fleet.running()
        scraped = fleet.scrape()
        if scraped is not None and len(scraped) == len(running) and fleet.settled(scraped):
            by_worker = {}
            for partition, (index,) in sorted(fleet.last_owners.items()):
                by_worker.setdefault(fleet.workers.index(running[index]), []).append(partition)
            if len(by_worker) == owners:
                return by_worker
        time.sleep(0.25)
    raise AssertionError(
        f"{owners} worker(s) did not share the partitions in {timeout}s (last: {by_worker})"
    )


def read_dlq(bootstrap: str, topic: str, expected: int, timeout: float = 60) -> list[Any]:
    """Every dead letter of the topic, reading until ``expected`` arrived (or timeout).

    Erasure tombstones (a withdrawn customer's letters, deleted by key) are left out: they
    carry no reason, and the stream decides how many there are.
    """
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
                records.extend(r for r in batch if r.value is not None)
            if len(records) >= expected:
                # One more poll: anything beyond ``expected`` is a duplicate to report.
                for batch in consumer.poll(timeout_ms=1000).values():
                    records.extend(r for r in batch if r.value is not None)
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


def without_withdrawals_near_logins(messages: list[Message], within: int) -> list[Message]:
    """The stream less the withdrawals of a person who identifies within ``within`` messages.

    A withdrawal racing a hand-over in flight is settled by order of arrival
    (docs/identity.md#exactness): with a worker down for seconds it lands on either
    side, and no reference can say which. The unit crash tests cover that race.
    """
    near: dict[str, list[int]] = {}
    for index, event in _indexed(messages):
        if event.get("event_type") == "identify":
            for person in (event.get("customer_id"), event.get("anonymous_id")):
                if person is not None:
                    near.setdefault(str(person), []).append(index)
    kept: list[Message] = []
    for index, message in enumerate(messages):
        try:
            data = orjson.loads(message.value)
        except orjson.JSONDecodeError:
            kept.append(message)
            continue
        events = data if isinstance(data, list) else [data]
        left = [e for e in events if not _racing(e, index, near, within)]
        if len(left) == len(events):
            kept.append(message)
        elif left:
            value = orjson.dumps(left if isinstance(data, list) else left[0])
            kept.append(replace(message, value=value, events=len(left)))
    return kept


def _indexed(messages: list[Message]) -> list[tuple[int, dict[str, Any]]]:
    """(message index, event) of every JSON object event."""
    return [(i, e) for i, m in enumerate(messages) for _, e in events_of([m])]


def _racing(event: Any, index: int, near: dict[str, list[int]], within: int) -> bool:
    if not isinstance(event, dict) or event.get("event_type") != "consent":
        return False
    consent = event.get("consent")
    if not isinstance(consent, dict) or consent.get("analytics") is not False:
        return False
    return any(abs(at - index) <= within for at in near.get(str(event.get("customer_id")), []))


def dip_after_restart(
    fleet: Fleet, before: dict[str, float], timeout: float = 60
) -> dict[str, Any]:
    """How long the restarted fleet read lower than the last scrape before the kill.

    Rows applied and exported just before a SIGKILL may not be acknowledged by the
    broker yet: the restarted worker reads lower until Kafka delivers their messages
    again (RELIABILITY.md, open problems). How long that takes depends on the rebalance
    and on how fast a loaded machine restores state and drains its backlog, so the wait
    is reported, not judged: a count that stayed lower for good is lost, and the
    scenario's final check against the reference fails on it with the counts it missed.
    A fleet that does not settle (every partition exported once) within 60 s still
    fails here: a worker that never restores its partitions is a failure of its own.
    ``read_lower_for_s`` counts from the restart, settling included.
    """
    began = time.monotonic()
    lower = decreased(before, settled_table(fleet))
    if not lower:
        return {"read_lower_for_s": 0.0}
    while lower and time.monotonic() - began < timeout:
        time.sleep(0.5)
        lower = decreased(before, settled_table(fleet))
    dip: dict[str, Any] = {"read_lower_for_s": round(time.monotonic() - began, 1)}
    if lower:
        dip["still_lower_after_wait"] = lower[:10]
    return dip
