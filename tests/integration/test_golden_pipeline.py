"""The golden stream through a real broker and worker gives exactly the expected totals."""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from kafka.consumer import KafkaConsumer
from kafka.structs import TopicPartition

from tests.integration.kafka_fixtures import kafka_one  # noqa: F401 (fixture)
from tests.integration.secret_leaks import WITH_UNUSED_SASL_PASSWORD, assert_no_secrets
from tests.support.golden import GOLDEN_EXPECTED, GOLDEN_STREAM
from tracker.core.pipeline_config import PipelineConfig
from tracker.core.pseudonym import Pseudonymizer
from tracker.kafka.broker import BrokerHandle
from tracker.kafka.changelog_codec import unpack
from tracker.kafka.partitioner import partition_for
from tracker.kafka.replay import Record, records
from tracker.metrics.samples import parse_exposition, total
from tracker.sentiment.scorer import SentimentScorer
from tracker.settings import Settings
from tracker.stream.signals import IGNORED_SIGUSR2
from tracker.testing.deployment import (
    PSEUDONYM_KEY,
    Deployment,
    WorkerProcess,
    make_deployment,
    wait_until,
)
from tracker.testing.kafka_cluster import KafkaCluster
from tracker.testing.reference import ReferencePipeline

GOLDEN = GOLDEN_STREAM
EXPECTED = GOLDEN_EXPECTED
COUNTED_EVENTS = sum(EXPECTED["events"].values())
CLOSED_SESSIONS = sum(EXPECTED["sessions_closed"].values())
SIGNALS_LOGGED = (IGNORED_SIGUSR2, "SIGUSR1: every thread's and task's stack", "TASK ")


def _events(worker: WorkerProcess) -> float:
    return total(worker.samples(), "tracker_events_total")


def messages_of(lines: list[str]) -> list[Record]:
    """The messages ``tracker replay`` sends for ``lines``."""
    return list(records(line.encode() for line in lines))


def counted_by_reference(lines: list[str], partitions: int, idle_timeout: float) -> float:
    """``tracker_events_total`` once ``lines`` are applied, by the pure reference pipeline
    configured like the deployment and fed the messages ``tracker replay`` sends.
    """
    settings = Settings(partitions=partitions, idle_timeout=idle_timeout)
    pseudonyms = Pseudonymizer(PSEUDONYM_KEY.encode())
    pipe = ReferencePipeline(
        PipelineConfig.from_settings(settings, pseudonyms, SentimentScorer()), partitions
    )
    for message in messages_of(lines):
        assert message.timestamp_ms is not None
        pipe.feed(message.key, message.value, message.timestamp_ms, message.timestamp_ms)
    return total(pipe.samples(), "tracker_events_total")


def assert_event_totals(worker: WorkerProcess) -> None:
    s = worker.samples()
    for event_type, n in EXPECTED["events"].items():
        assert total(s, "tracker_events_total", event_type=event_type) == n, event_type
    for reason, n in EXPECTED["events_dropped"].items():
        assert total(s, "tracker_events_dropped_total", reason=reason) == n, reason
    for channel, n in EXPECTED["orders"].items():
        assert total(s, "tracker_orders_total", channel=channel) == n, channel
    for currency, amount in EXPECTED["revenue"].items():
        assert round(total(s, "tracker_revenue_total", currency=currency), 2) == amount
    for category, n in EXPECTED["nps_responses"].items():
        assert total(s, "tracker_nps_responses_total", category=category) == n, category
    assert total(s, "tracker_erasures_total") == EXPECTED["erasures"]
    assert total(s, "tracker_events_rejected_total") == 0


def assert_session_totals(worker: WorkerProcess) -> None:
    s = worker.samples()
    for key in (
        "sessions_started",
        "sessions_closed",
        "sessions_bounced",
        "sessions_engaged",
        "sessions_interacted",
        "sessions_converted",
    ):
        for channel, n in EXPECTED[key].items():
            assert total(s, f"tracker_{key}_total", channel=channel) == n, (key, channel)
        assert total(s, f"tracker_{key}_total") == sum(EXPECTED[key].values()), key


def replay(deployment: Deployment, path: Path = GOLDEN) -> None:
    deployment.tracker("replay", str(path), "--as-fast-as-possible")


def test_golden_reach_while_reference_is_end_of_stream(
    deployment_factory: Callable[..., Deployment],
) -> None:
    deployment = deployment_factory(TRACKER_IDLE_TIMEOUT="100000", **WITH_UNUSED_SASL_PASSWORD)
    worker = deployment.worker()
    worker.stdin = subprocess.PIPE  # open, as a terminal's: a worker reading it would stop
    worker.start()
    assert worker.process is not None
    # Signals an operator may send change nothing the worker counts: SIGUSR2 is logged
    # (Faust would wait in a debugger on stdin), SIGUSR1 logs stacks (without secrets).
    worker.process.send_signal(signal.SIGUSR2)
    worker.process.send_signal(signal.SIGUSR1)
    replay(deployment)
    wait_until(lambda: _events(worker) == COUNTED_EVENTS, 60, "all golden events counted")
    wait_until(
        lambda: all(line in worker.log_path.read_text() for line in SIGNALS_LOGGED),
        10,
        "both signals' log lines",
    )
    assert_event_totals(worker)
    s = worker.samples()
    for window, n in EXPECTED["reach_all_channels"].items():
        assert total(s, "tracker_reach", window=window, channel="all") == n, window
    assert_no_secrets(worker.get("/metrics")[1].decode(), "the worker's /metrics", worker.env)
    log = worker.log_path.read_text(errors="replace")
    assert_no_secrets(log, "the worker's log", worker.env)
    assert traced(worker) is None  # not started under tracemalloc


def traced(worker: WorkerProcess) -> Any:
    """``/debug/memory?traced=1``, asked again while a loaded machine takes longer than the
    client's 5 s (the next ask waits for that count and is answered from it)."""
    deadline = time.monotonic() + 60
    while (answer := worker.get("/debug/memory?traced=1"))[0] == 0:
        assert worker.process is not None and worker.process.poll() is None, worker.tail()
        assert time.monotonic() < deadline, "no answer from /debug/memory?traced=1 in 60 s"
        time.sleep(1)
    status, body = answer
    assert status == 200, (status, body[:200])
    return orjson.loads(body)["traced"]


def test_golden_sessions_after_idle_close(deployment_factory: Callable[..., Deployment]) -> None:
    # Under tracemalloc (Python's own variable): /debug/memory can say where the worker's
    # memory was allocated (docs/operations.md#memory).
    deployment = deployment_factory(TRACKER_IDLE_TIMEOUT="2")
    worker = deployment.worker(PYTHONTRACEMALLOC="3").start()
    replay(deployment)
    wait_until(
        lambda: total(worker.samples(), "tracker_sessions_closed_total") == CLOSED_SESSIONS,
        60,
        "every golden session to close",
    )
    assert_event_totals(worker)
    assert_session_totals(worker)
    assert total(worker.samples(), "tracker_sessions_active") == 0
    # name[]: only those samples, the same as in the whole scrape (all sessions closed).
    names = ("tracker_sessions_closed_total", "tracker_events_total", "tracker_partitions_assigned")
    query = "&".join(f"name%5B%5D={name}" for name in names)
    status, body = worker.get(f"/metrics?{query}")
    assert status == 200
    named = parse_exposition(body.decode())
    assert {sample[0] for sample in named} == set(names)
    assert named == [sample for sample in worker.samples() if sample[0] in names]
    allocated = traced(worker)
    assert allocated["frames"] == 3 and allocated["traced_bytes"] > 10 * 2**20, allocated
    sites = allocated["sites"]
    assert len(sites) == 25 and all(1 <= len(site["where"]) <= 3 for site in sites), sites
    sizes = [site["bytes"] for site in sites]
    assert sizes == sorted(sizes, reverse=True), sizes  # the largest first
    assert all(frame.rpartition(":")[2].isdigit() for s in sites for frame in s["where"]), sites


def last_offsets(lines: list[str], partitions: int) -> dict[int, int]:
    """Input partition -> offset of its last message, for ``lines`` replayed to a new topic."""
    counts = Counter(partition_for(m.key, partitions) for m in messages_of(lines))
    return {partition: n - 1 for partition, n in counts.items()}


def applied_in_changelog(deployment: Deployment) -> dict[int, int]:
    """Input partition -> highest input offset a row in the state changelog says it applied.

    Every processed message writes a row carrying its offset (``"o"``), so this is
    what a restarted worker restores.
    """
    topic = f"{deployment.env['TRACKER_WORKER_ID']}-tracker-state-changelog"
    consumer = KafkaConsumer(
        bootstrap_servers=deployment.broker.bootstrap, enable_auto_commit=False, group_id=None
    )
    applied: dict[int, int] = {}
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            for batch in consumer.poll(timeout_ms=500).values():
                for record in batch:
                    row = orjson.loads(unpack(record.value)) if record.value else None
                    if isinstance(row, dict) and "o" in row:
                        partition = int(record.key.split(b"/", 1)[0])
                        applied[partition] = max(applied.get(partition, -1), int(row["o"]))
    finally:
        consumer.close()
    return applied


def halves(tmp_path: Path) -> tuple[list[str], Path, Path]:
    lines = GOLDEN.read_text().splitlines()
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_text("\n".join(lines[:60]) + "\n")
    second.write_text("\n".join(lines[60:]) + "\n")
    return lines[:60], first, second


# On Apache Kafka, not the embedded Tansu broker the other golden tests share: in CI, under
# load, Tansu (0.6.0, memory engine) twice answered a restarted worker's recovery with
# changelog end offsets below records a consumer had read from the same partitions before
# the stop (the restore then stopped short: 37 of 54 events). This test is about the
# worker's restore, so it runs where acknowledged records stay; the embedded broker is for
# the demo and fast tests (README, "Operations").
def test_restart_continues_counts_without_double_counting(
    kafka_one: KafkaCluster,  # noqa: F811
    tmp_path: Path,
) -> None:
    lines, first, second = halves(tmp_path)
    first_half = counted_by_reference(lines, partitions=4, idle_timeout=100_000)
    assert 0 < first_half < COUNTED_EVENTS
    deployment = make_deployment(
        BrokerHandle(kafka_one.bootstrap), tmp_path / "d0", TRACKER_IDLE_TIMEOUT="100000"
    )
    assert deployment.env["TRACKER_PARTITIONS"] == "4"
    try:
        worker = deployment.worker().start()
        replay(deployment, first)
        wait_until(
            lambda: _events(worker) == first_half, 60, f"the first half's {first_half} events"
        )
        # Stop once the first half is durable, not after a guessed pause. Stopped within a
        # second or two of applying messages, a worker was seen to lose their changelog rows
        # while committing their offsets (an open bug); this test is about the restore.
        durable = last_offsets(lines, partitions=4)
        wait_until(
            lambda: applied_in_changelog(deployment) == durable,
            60,
            "the first half in the changelog",
        )
        worker.stop()
        worker.start()
        # Exactly the same after the restart: nothing lost, nothing counted twice.
        seen: list[float] = []

        def restored() -> bool:
            seen.append(_events(worker))
            return seen[-1] == first_half

        try:
            wait_until(restored, 60, "the restored count")
        except AssertionError:  # say which way it is off, and what the restart restored
            lines = [line for line in worker.tail(400).splitlines() if "state restored" in line]
            raise AssertionError(
                f"{first_half} events after a restart, last seen {seen[-1:]}; input offsets in "
                f"the changelog {applied_in_changelog(deployment)} (durable before the stop: "
                f"{durable}); the worker's log:\n" + "\n".join(lines)
            ) from None
        replay(deployment, second)
        wait_until(lambda: _events(worker) == COUNTED_EVENTS, 60, "all golden events counted")
        assert_event_totals(worker)
        s = worker.samples()
        for window, n in EXPECTED["reach_all_channels"].items():
            assert total(s, "tracker_reach", window=window, channel="all") == n, window
    finally:
        deployment.stop()
