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
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiokafka
import faust
import pytest

from tests.unit.helpers import config
from tracker.settings import Settings
from tracker.stream import app as app_module
from tracker.stream.app import build_worker_app
from tracker.stream.faust_patches import SeekTrail, _note_seeks, trace_seeks
from tracker.stream.holes import AfterSeek
from tracker.stream.pipeline import Pipeline, WorkerState

TP = faust.types.TP("input", 3)


class StandInFetcher:
    """What Faust's ``_fetch_records`` and aiokafka's seeks use of aiokafka's Fetcher."""

    def __init__(self) -> None:
        self._closed = False
        self.states: dict[Any, object] = {TP: object()}  # one per partition and assignment
        self._subscriptions = SimpleNamespace(
            fetch_context=contextlib.nullcontext, _assigned_state=self.states.__getitem__
        )
        self.ready: dict[Any, list[Any]] = {}
        self.calls: list[tuple[str, Any]] = []

    async def fetched_records(
        self, partitions: Any, timeout: float = 0, max_records: int | None = None
    ) -> dict[Any, list[Any]]:
        ready, self.ready = self.ready, {}
        return ready

    def seek_to(self, tp: Any, offset: int) -> None:
        self.states[tp]  # aiokafka raises for a partition not assigned, as this does
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
        consumer: Any = app.consumer
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
        before = time.monotonic()
        loop.run_until_complete(fetch())
        back = trail.after_seek("input", 3)
        assert back is not None and before <= back.back_s <= time.monotonic()  # the agents' clock
        fetcher.ready = {TP: _records(1296)}
        loop.run_until_complete(fetch())
        later = trail.after_seek("input", 3)
        assert later == AfterSeek(1294, 1294)
        # Stamped once, when the refetch came back: a later fetch keeps its patience running.
        assert later is not None and later.back_s == back.back_s
        assert trail.after_seek("input", 4) is None
        fetcher.request_offset_reset([TP], "earliest")
        assert trail.after_seek("input", 3) == AfterSeek(-1, None)
        assert fetcher.calls[-1] == ("reset", ([TP], "earliest"))


def test_a_seek_from_another_thread_or_a_new_assignment_voids_the_entry() -> None:
    with _traced() as (loop, fetch, fetcher, trail):
        loop.run_until_complete(fetch())
        # Not ordered against the consumer thread's fetches: never taken for a refetch.
        seeking = threading.Thread(target=fetcher.seek_to, args=(TP, 1294))
        seeking.start()
        seeking.join()
        assert trail.after_seek("input", 3) == AfterSeek(-1, None)
        fetcher.seek_to(TP, 1294)
        # Reassigned before anything came back: aiokafka reset the position to the
        # committed offset, without a seek, so what comes back is not the refetch.
        fetcher.states[TP] = object()
        fetcher.ready = {TP: _records(1298)}
        loop.run_until_complete(fetch())
        assert trail.after_seek("input", 3) == AfterSeek(-1, 1298)
        # A seek that fails notes nothing.
        with pytest.raises(KeyError):
            fetcher.seek_to(faust.types.TP("input", 9), 5)
        assert trail.after_seek("input", 9) is None


def test_the_worker_app_gives_its_pipeline_the_trail_of_its_consumer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[Pipeline] = []

    class Recorded(Pipeline):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            built.append(self)

    monkeypatch.setattr(app_module, "Pipeline", Recorded)
    loop = asyncio.new_event_loop()
    try:
        settings = Settings(topic="input", data_dir=tmp_path)
        app = loop.run_until_complete(_build(settings))
        app.consumer.flow_active = True
        (pipeline,) = built
        fetcher = StandInFetcher()
        client = SimpleNamespace(_closed=False, _fetcher=fetcher)
        loop.run_until_complete(app.consumer._thread._fetch_records(client, {TP}, 0.1, 10))
        fetcher.seek_to(TP, 1294)
        fetcher.ready = {TP: _records(1294)}
        loop.run_until_complete(app.consumer._thread._fetch_records(client, {TP}, 0.1, 10))
        assert pipeline.offsets.sought("input", 3) == AfterSeek(1294, 1294)
        assert pipeline.offsets.sought("identity", 3) is None
    finally:
        loop.close()


async def _build(settings: Settings) -> Any:
    return build_worker_app(WorkerState(settings, config(), 6), "127.0.0.1:1")


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


def test_aiokafka_drops_what_it_buffered_for_a_partition_when_it_is_sought() -> None:
    """What the trail's premise rests on, on aiokafka's own Fetcher and subscription."""
    from aiokafka.consumer.fetcher import Fetcher
    from aiokafka.consumer.subscription_state import SubscriptionState

    async def seek() -> tuple[bool, int, AfterSeek | None, bool]:
        tp = aiokafka.TopicPartition("input", 3)
        subscriptions = SubscriptionState()
        subscriptions.assign_from_user({tp})
        subscriptions.seek(tp, 1303)
        client = SimpleNamespace(_loop=asyncio.get_running_loop(), _metadata_max_age_ms=300_000)
        fetcher = Fetcher(client, subscriptions)
        fetcher._fetch_task.cancel()  # no broker: only the seek is exercised
        fetcher._records[tp] = object()  # records fetched from 1303, not yet returned
        trail = SeekTrail()
        trail.thread = threading.get_ident()
        _note_seeks(fetcher, trail)
        fetcher.seek_to(tp, 1294)
        state = subscriptions._assigned_state(tp)
        noted_state = trail._entries[("input", 3)][1] is state
        return tp in fetcher._records, state.position, trail.after_seek("input", 3), noted_state

    assert asyncio.run(seek()) == (False, 1294, AfterSeek(1294, None), True)
