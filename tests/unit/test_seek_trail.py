"""The consumer's record of each seek and the first record fetched after it (SeekTrail).

``stream.holes`` accepts a gap in a partition's offsets only when this record says the
fetch from the sought offset started there. The patch wraps Faust's consumer thread
and aiokafka's fetcher; these tests drive the real Faust thread method and the real
aiokafka seek with a stand-in fetcher, so a Faust or aiokafka upgrade that moves what
is wrapped fails here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import aiokafka
import faust

from tracker.stream.faust_patches import SeekTrail, trace_seeks
from tracker.stream.holes import AfterSeek

TP = faust.types.TP("input", 3)


class StandInFetcher:
    """What Faust's ``_fetch_records`` and aiokafka's seeks use of aiokafka's Fetcher."""

    def __init__(self) -> None:
        self._closed = False
        self._subscriptions = SimpleNamespace(fetch_context=contextlib.nullcontext)
        self.ready: dict[Any, list[Any]] = {}
        self.calls: list[tuple[str, Any]] = []

    async def fetched_records(
        self, partitions: Any, timeout: float = 0, max_records: int | None = None
    ) -> dict[Any, list[Any]]:
        ready, self.ready = self.ready, {}
        return ready

    def seek_to(self, tp: Any, offset: int) -> None:
        self.calls.append(("seek_to", (tp, offset)))

    def request_offset_reset(self, tps: Any, strategy: Any) -> None:
        self.calls.append(("reset", (list(tps), strategy)))


def _records(*offsets: int) -> list[Any]:
    return [SimpleNamespace(topic=TP.topic, partition=TP.partition, offset=o) for o in offsets]


@contextlib.contextmanager
def _traced() -> Iterator[tuple[Any, Any, StandInFetcher, SeekTrail]]:
    loop = asyncio.new_event_loop()
    try:
        app = faust.App("test-seek-trail", broker="kafka://127.0.0.1:1", loop=loop)
        consumer = app.consumer
        consumer.flow_active = True
        trail, fetcher = SeekTrail(), StandInFetcher()
        trace_seeks(consumer, trail)
        client = SimpleNamespace(_closed=False, _fetcher=fetcher)
        yield loop, lambda: consumer._thread._fetch_records(client, {TP}, 0.1, 10), fetcher, trail
    finally:
        loop.close()


def test_the_first_record_fetched_after_a_seek_is_kept_until_the_next_seek() -> None:
    with _traced() as (loop, fetch, fetcher, trail):
        fetcher.ready = {TP: _records(1298, 1299)}
        assert loop.run_until_complete(fetch()) == {TP: _records(1298, 1299)}
        assert trail.after_seek("input", 3) is None  # no seek yet
        fetcher.seek_to(TP, 1294)  # as aiokafka's consumer does, wrapped since the fetch
        assert fetcher.calls == [("seek_to", (TP, 1294))]  # the seek itself still happens
        assert trail.after_seek("input", 3) == AfterSeek(1294, None)
        loop.run_until_complete(fetch())  # nothing came back yet
        assert trail.after_seek("input", 3) == AfterSeek(1294, None)
        fetcher.ready = {TP: _records(1294, 1295)}
        loop.run_until_complete(fetch())
        fetcher.ready = {TP: _records(1296)}
        loop.run_until_complete(fetch())
        assert trail.after_seek("input", 3) == AfterSeek(1294, 1294)
        assert trail.after_seek("input", 4) is None
        fetcher.request_offset_reset([TP], "earliest")
        assert trail.after_seek("input", 3) == AfterSeek(-1, None)
        assert fetcher.calls[-1] == ("reset", ([TP], "earliest"))


def test_the_fetcher_is_wrapped_once() -> None:
    with _traced() as (loop, fetch, fetcher, trail):
        for _ in range(3):
            loop.run_until_complete(fetch())
        fetcher.seek_to(TP, 7)
        assert fetcher.calls == [("seek_to", (TP, 7))]
        assert trail.after_seek("input", 3) == AfterSeek(7, None)


def test_aiokafka_seeks_through_its_fetcher() -> None:
    """Faust's ``seek_wait`` and ``seek_to_committed`` end in ``AIOKafkaConsumer.seek``
    and its own loop, and both call ``Fetcher.seek_to``: the method the trail wraps."""

    async def seek() -> list[tuple[str, Any]]:
        consumer = aiokafka.AIOKafkaConsumer(bootstrap_servers="127.0.0.1:1")
        fetcher = StandInFetcher()
        consumer._fetcher = fetcher
        try:
            consumer.seek(aiokafka.TopicPartition("input", 3), 1294)
        finally:
            consumer._fetcher = None  # never started: nothing of its own to close
            await consumer.stop()
        return fetcher.calls

    assert asyncio.run(seek()) == [("seek_to", (aiokafka.TopicPartition("input", 3), 1294))]
