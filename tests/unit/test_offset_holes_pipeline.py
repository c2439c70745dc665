"""The worker's wiring of the offset-hole guard (stream.rewinder, stream.holes).

The pipeline is driven with plain objects in place of Faust's topics and consumer, as
in test_fault_isolation.py; the read-offset patch is checked on a real Faust consumer
object. The guard itself, and a model of Faust's buffers, are in test_offset_holes.py.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from types import SimpleNamespace
from typing import Any

import faust
import pytest

from tests.unit.helpers import Harness, encode, ev, ms
from tracker.stream.faust_patches import deliver_refetched
from tracker.stream.holes import AfterSeek
from tracker.stream.pipeline import Pipeline, Topology, WorkerState
from tracker.stream.rewinder import Sought


class Sent:
    def __init__(self) -> None:
        self.records: list[tuple[bytes | None, bytes]] = []

    async def send(self, key: bytes | None, value: bytes, headers: Any = None) -> None:
        self.records.append((key, value))


def _message(offset: int, value: bytes) -> Any:
    return SimpleNamespace(
        topic="t",
        partition=0,
        offset=offset,
        key=b"ana",
        value=value,
        timestamp=ms(60) / 1000,
        headers=[],
    )


def _pipeline(
    h: Harness, sought: Sought | None = None
) -> tuple[Pipeline, list[tuple[str, int, int]]]:
    """A pipeline over the harness's processor as partition 0, recording its seeks."""
    worker = WorkerState(
        settings=SimpleNamespace(topic="t", dlq_topic="t-dlq", worker_id="w"),
        config=None,
        partitions=1,
    )  # type: ignore[arg-type]
    worker.processors[0] = h.p
    topology = Topology(
        source=None, dlq=Sent(), activities=Sent(), identity=Sent(), table=None, account_table=None
    )
    seeks: list[tuple[str, int, int]] = []

    async def rewind(stream: str, partition: int, offset: int) -> None:
        seeks.append((stream, partition, offset))

    return Pipeline(worker, topology, rewind=rewind, sought=sought), seeks


class Driven:
    """A pipeline over a harness, the consumer's trail it reads, and its seeks."""

    def __init__(self) -> None:
        self.h = Harness()
        self.trail: dict[str, AfterSeek | None] = {"input": None}
        self.pipeline, self.seeks = _pipeline(self.h, lambda stream, _p: self.trail[stream])

    def deliver(self, *offsets: int) -> list[bool]:
        """Hand the agent these offsets of customer ana's page views, in this order."""

        async def handle() -> list[bool]:
            return [
                await self.pipeline.handle(_message(o, encode(ev("page_view", "ana", 60 + o))))
                for o in offsets
            ]

        return asyncio.run(handle())


def test_the_pipeline_refuses_a_message_beyond_a_hole_and_seeks_back() -> None:
    d = Driven()
    h, seeks, deliver = d.h, d.seeks, d.deliver

    assert deliver(0, 1) == [True, True]
    # 2 and 3 were dropped by the stream: 4 and 5 are refused, one seek back to 2.
    assert deliver(4, 5) == [False, False]
    assert seeks == [("input", 0, 2)]
    assert h.p.applied_offset == 1
    assert deliver(2, 3, 4, 5) == [True, True, True, True]
    assert h.p.applied_offset == 5
    assert h.total("tracker_events_total") == 6


def test_the_pipeline_goes_on_past_a_hole_only_where_the_refetch_began_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    d = Driven()
    h, seeks, deliver, trail = d.h, d.seeks, d.deliver, d.trail

    assert deliver(0, 1, 4) == [True, True, False]
    assert seeks == [("input", 0, 2)]
    trail["input"] = AfterSeek(2, None)  # sought; nothing fetched from there yet
    assert deliver(3) == [False]  # fetched before the seek
    trail["input"] = AfterSeek(2, 3)  # Kafka has no record at 2: the refetch began at 3
    with caplog.at_level(logging.INFO, logger="tracker.stream.worker"):
        assert deliver(3, 4) == [True, True]
    assert "partition 0 of the input topic: Kafka holds no record at offsets 2-2" in caplog.text
    assert seeks == [("input", 0, 2)]
    assert (h.p.applied_offset, h.total("tracker_events_total")) == (4, 4)


def test_the_pipeline_seeks_again_for_a_refetch_that_never_arrived_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    d = Driven()
    h, seeks, deliver, trail = d.h, d.seeks, d.deliver, d.trail

    assert deliver(0, 4) == [True, False]
    # Offset 1 came back from the seek a minute ago (on the agents' clock), and was lost.
    trail["input"] = AfterSeek(1, 1, back_s=time.monotonic() - 60.0)
    with caplog.at_level(logging.WARNING, logger="tracker.stream.worker"):
        assert deliver(5) == [False]
    assert seeks == [("input", 0, 1), ("input", 0, 1)]
    assert re.search(
        r"partition 0 of the input topic: the refetch from offset 1 came back from Kafka "
        r"6\d\.\ds ago but never reached the agent",
        caplog.text,
    )
    assert "waiting up to 4s for it next time" in caplog.text
    assert deliver(1, 2, 3, 4, 5) == [True] * 5
    assert (h.p.applied_offset, h.total("tracker_events_total")) == (5, 6)


def test_the_pipeline_seeks_back_a_stream_whose_backlog_stands_still() -> None:
    pipeline, seeks = _pipeline(Harness())
    ends = {"input": 3, "identity": None, "activity": None}  # offsets 0-2 exist, none applied

    async def check(now_s: float) -> None:
        await pipeline.seek_stalled(lambda stream, _partition: ends[stream], now_s)

    asyncio.run(check(0.0))  # first seen
    asyncio.run(check(20.0))  # 20 s later, still nothing applied: sought back
    asyncio.run(check(21.0))  # only once per interval
    assert seeks == [("input", 0, 0)]


def test_read_offsets_never_filter_the_guarded_topics() -> None:
    async def build() -> Any:
        app = faust.App("test-read-offsets", broker="kafka://127.0.0.1:1")
        return app.consumer

    consumer = asyncio.run(build())
    deliver_refetched(consumer, ["input"])
    tp_input, tp_changelog = faust.types.TP("input", 0), faust.types.TP("changelog", 0)
    consumer._read_offset[tp_input] = 995  # what Faust sets for records it then discards
    consumer._read_offset[tp_changelog] = 12
    read = consumer._read_offset.__getitem__  # as Consumer._drain_messages reads it
    assert read(tp_input) is None
    assert read(tp_changelog) == 12
    assert read(faust.types.TP("changelog", 1)) is None
