"""Fault isolation (docs/operations.md#partition-faults, #scrapes).

A failing partition pauses alone; a failing part of a scrape is left out alone.
The pipeline is driven here with plain objects in place of Faust's topics, since
what is tested is its bookkeeping, not Kafka.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from tests.unit.helpers import Harness, encode, ev, ms
from tracker.core.faults import PartitionFault
from tracker.metrics.samples import parse_exposition, total
from tracker.stream.pipeline import Pipeline, Topology, WorkerState
from tracker.stream.web import PartitionHealth
from tracker.testing.offline_exporter import offline_exporter, offline_samples

# Failures are injected on purpose here: their internal_error is the subject, not a bug.
pytestmark = pytest.mark.internal_error_expected


class BrokenError(RuntimeError):
    pass


class Sent:
    """Stands in for a Faust topic: records what was sent."""

    def __init__(self) -> None:
        self.records: list[tuple[bytes | None, bytes]] = []

    async def send(self, key: bytes | None, value: bytes, headers: Any = None) -> None:
        self.records.append((key, value))


def _pipeline(processors: dict[int, Any]) -> tuple[Pipeline, list[int], Sent]:
    # One partition as far as keys go: no message here is re-routed (test_reroute.py).
    worker = WorkerState(
        settings=SimpleNamespace(topic="t", dlq_topic="t-dlq", worker_id="w"),
        config=None,
        partitions=1,
    )  # type: ignore[arg-type]
    worker.processors.update(processors)
    paused: list[int] = []
    dlq = Sent()
    topology = Topology(
        source=None, dlq=dlq, activities=Sent(), identity=Sent(), table=None, account_table=None
    )
    return Pipeline(worker, topology, paused.append), paused, dlq


def _message(partition: int, offset: int, value: bytes, key: bytes = b"ana") -> Any:
    return SimpleNamespace(
        partition=partition,
        offset=offset,
        key=key,
        value=value,
        timestamp=ms(60) / 1000,
        headers=[],
    )


class Flaky:
    """A partition processor's housekeeping surface whose flush fails."""

    applied_offset = 7
    identity = SimpleNamespace(take=list)  # no identity records to send
    store = None

    def __init__(self, fails: bool) -> None:
        self.fails = fails
        self.flushed = 0
        self.outbox: list[Any] = []  # what a tick sends besides rows: nothing
        self.erased_letters: list[str] = []

    def tick(self, _now_ms: int) -> None:
        pass

    def flush(self) -> None:
        if self.fails:
            raise BrokenError("disk")
        self.flushed += 1


async def test_a_failing_flush_pauses_only_its_partition() -> None:
    healthy, broken = Flaky(fails=False), Flaky(fails=True)
    pipeline, paused, _ = _pipeline({0: healthy, 1: broken})
    await pipeline.housekeeping()
    await pipeline.housekeeping()
    assert paused == [1]  # once, however often the timer runs
    assert set(pipeline.worker.failed) == {1}
    assert pipeline.worker.failed[1].step == "housekeeping"
    assert healthy.flushed == 2
    pipeline.worker.partitions = 6  # of the input topic; this worker owns two of them
    registry = CollectorRegistry()
    registry.register(PartitionHealth(pipeline.worker))
    samples = parse_exposition(generate_latest(registry).decode())
    assert total(samples, "tracker_partition_failed", partition="1") == 1
    assert total(samples, "tracker_partition_failed", partition="0") == 0
    # The topic's count, against which an alert finds partitions no worker exports.
    assert total(samples, "tracker_input_partitions") == 6


def test_messages_of_a_paused_partition_are_neither_applied_nor_acknowledged() -> None:
    h = Harness(partition=1)
    pipeline, _, _ = _pipeline({1: h.p})
    pipeline.fault(1, PartitionFault("housekeeping", 3), BrokenError("disk"))
    acked = asyncio.run(pipeline.handle(_message(1, 0, encode(ev("page_view", "ana", 60)))))
    assert acked is False
    assert h.p.applied_offset == -1
    assert h.total("tracker_events_total") == 0


@pytest.mark.source_core
def test_a_fault_after_the_write_keeps_the_message_and_sends_its_dead_letters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    h = Harness(partition=2)
    monkeypatch.setattr(
        type(h.p), "_close_due", lambda _self: (_ for _ in ()).throw(BrokenError("index"))
    )
    pipeline, paused, dlq = _pipeline({2: h.p})
    invalid = {"consent": {"analytics": True}, "not": "an event"}  # claims consent: a letter
    batch = encode([ev("page_view", "ana", 60), invalid])
    acked = asyncio.run(pipeline.handle(_message(2, 0, batch)))
    assert acked is True  # applied and written: a restart would skip it by its offset
    assert paused == [2]
    assert h.p.applied_offset == 0
    assert len(dlq.records) == 1  # the invalid item's letter is not lost


def test_a_failing_part_of_the_scrape_leaves_the_others_served(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    h = Harness()
    h.send(ev("page_view", "ana", 0))
    exporter = offline_exporter({0: h.p}, h.cfg, ms(60))
    monkeypatch.setattr(exporter, "_gauges", lambda _parts: (_ for _ in ()).throw(BrokenError("x")))
    for _ in range(2):
        samples = offline_samples(exporter)
    assert total(samples, "tracker_events_total") == 1
    assert total(samples, "tracker_scrape_errors_total", part="gauges") == 2
    assert total(samples, "tracker_scrape_errors_total", part="counters") == 0
    assert not [s for s in samples if s[0] == "tracker_reach"]
