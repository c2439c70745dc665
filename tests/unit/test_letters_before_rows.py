"""A message's dead letters and account activity reach the producer's batches before its rows.

A row in the changelog marks its message applied: after a crash the re-delivered message
is skipped and its letters, tombstones and activity are not sent again. So the worker
holds a message's rows until those are appended (``stream.side_records``). On a real aiokafka producer,
never started: the order of its accumulator's partitions is the order its sender drains
them in, into one produce request per broker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.structs import TopicPartition

from tests.unit.helpers import config, encode, ev, ms
from tests.unit.test_changelog import TOPIC, Table, records
from tracker.core.accounts import AccountActivity, unpack
from tracker.kafka.partitioner import partition_for
from tracker.kafka.topics import CONTROL_HEADER
from tracker.stream.changelog import ChangelogAppender
from tracker.stream.pipeline import Pipeline, Topology, WorkerState

DLQ = "touchpoints-dlq"
ACTIVITY = "worker-account-activity"  # activity_topic("worker")


class Sent:
    """A topic's Faust path: what was sent through it, in order.

    With ``futures``, each send returns a future the test completes (the acknowledgement).
    """

    def __init__(self, futures: bool = False) -> None:
        self.keys: list[bytes] = []
        self.values: list[bytes | None] = []
        self.futures: list[asyncio.Future[None]] | None = [] if futures else None

    async def send(self, key: bytes, value: bytes | None, **_: Any) -> Any:
        self.keys.append(key)
        self.values.append(value)
        if self.futures is None:
            return None
        self.futures.append(asyncio.get_running_loop().create_future())
        return self.futures[-1]


@pytest.fixture
async def producer() -> AsyncIterator[AIOKafkaProducer]:
    made = AIOKafkaProducer(bootstrap_servers="127.0.0.1:1")
    yield made
    made._closed = True  # never started: nothing to close


def _worker(
    producer: AIOKafkaProducer, dlq_partitions: int = 3, activity_partitions: int = 3
) -> tuple[Pipeline, Sent]:
    cluster = producer.client.cluster  # what the producer's metadata knows of the topics
    for topic, partitions in ((DLQ, dlq_partitions), (ACTIVITY, activity_partitions)):
        if partitions:
            cluster._partitions[topic] = {p: SimpleNamespace(leader=1) for p in range(partitions)}
    settings = SimpleNamespace(
        topic="touchpoints", dlq_topic=DLQ, worker_id="worker", changelog_codec="none"
    )
    worker = WorkerState(settings=settings, config=config(), partitions=1)  # type: ignore[arg-type]
    worker.changelog = ChangelogAppender(SimpleNamespace(_producer=producer), worker.pending.track)
    dlq = Sent()
    topology = Topology(
        source=None, dlq=dlq, activities=Sent(), identity=None, table=Table(), account_table=Table()
    )
    return Pipeline(worker, topology), dlq


def _message(offset: int, value: bytes, key: bytes = b"ana") -> Any:
    return SimpleNamespace(
        partition=0, offset=offset, key=key, value=value, timestamp=ms(60) / 1000, headers=[]
    )


def _queued(producer: AIOKafkaProducer) -> list[TopicPartition]:
    return list(producer._message_accumulator._batches)


async def test_a_messages_letters_are_appended_before_its_rows(producer: AIOKafkaProducer) -> None:
    pipeline, dlq = _worker(producer)
    assert pipeline.processor_for(0) is not None
    producer._message_accumulator._batches.clear()  # what the restore wrote
    assert await pipeline.handle(_message(0, b"{not json"))
    first, *rest = _queued(producer)
    assert first.topic == DLQ and [tp.topic for tp in rest] == [TOPIC]
    [letter] = records(producer._message_accumulator._batches[first][0])
    assert letter[0] is not None and letter[0].endswith(b"/0")  # the customer's first letter
    assert dlq.keys == []  # nothing through Faust's path
    rows = records(producer._message_accumulator._batches[rest[0]][0])
    assert rows and all(key.startswith(b"0/") for key, _ in rows if key is not None)


async def test_the_letter_goes_where_aiokafkas_send_would_put_it(
    producer: AIOKafkaProducer,
) -> None:
    pipeline, _ = _worker(producer, dlq_partitions=7)
    appender = pipeline.worker.changelog
    assert appender is not None and pipeline.processor_for(0) is not None
    for key in (b"c:a:0", b"c:b:0", b"u:0:17:0", b"c:zz:3"):
        future = appender.append_keyed(DLQ, key, b"letter", [("h", b"v")])
        expected = producer._partition(DLQ, None, key, b"letter", key, b"letter")
        [tp] = [
            tp for tp, q in producer._message_accumulator._batches.items() if q[-1].future is future
        ]
        assert tp == TopicPartition(DLQ, expected)


async def test_without_the_dlqs_metadata_the_letter_is_sent_after_the_rows(
    producer: AIOKafkaProducer,
) -> None:
    """The first letter before the producer knows the DLQ's partitions: Faust's path."""
    pipeline, dlq = _worker(producer, dlq_partitions=0)
    assert pipeline.processor_for(0) is not None
    assert await pipeline.handle(_message(0, b"{not json"))
    assert len(dlq.keys) == 1 and DLQ in producer.client._topics  # asked for with the next update
    assert [tp.topic for tp in _queued(producer)] == [TOPIC]


async def test_a_message_without_letters_writes_its_rows_at_once(
    producer: AIOKafkaProducer,
) -> None:
    pipeline, dlq = _worker(producer)
    processor = pipeline.processor_for(0)
    assert processor is not None
    assert await pipeline.handle(_message(0, encode(ev("page_view", "ana", 60))))
    assert [tp.topic for tp in _queued(producer)] == [TOPIC] and dlq.keys == []
    assert processor.store.changelog.held is None  # type: ignore[attr-defined]
    assert processor.store.last_write is not None  # type: ignore[attr-defined]


@pytest.mark.source_core  # patches the processor: compiled callers never look it up
async def test_rows_of_a_message_whose_processing_failed_follow_its_letter(
    producer: AIOKafkaProducer, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline, _ = _worker(producer)
    processor = pipeline.processor_for(0)
    assert processor is not None
    producer._message_accumulator._batches.clear()

    def broken(*_: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(type(processor), "_close_due", broken)  # after the rows are written
    assert await pipeline.handle(_message(0, encode(ev("page_view", "ana", 60))))
    assert 0 in pipeline.worker.failed  # a partition fault: applied, then paused
    assert [tp.topic for tp in _queued(producer)] == [TOPIC]  # no letters: rows written
    assert processor.store.changelog.held is None  # type: ignore[attr-defined]


async def test_a_dlq_the_metadata_dropped_again_is_sent_not_lost(
    producer: AIOKafkaProducer,
) -> None:
    """A metadata update narrowed to other topics: the letter takes Faust's path."""
    pipeline, dlq = _worker(producer)
    assert pipeline.processor_for(0) is not None
    assert await pipeline.handle(_message(0, b"{not json"))
    del producer.client.cluster._partitions[DLQ]
    assert await pipeline.handle(_message(1, b"{still not json"))
    assert len(dlq.keys) == 1  # the second letter, through Faust


async def test_a_letter_aiokafka_refuses_to_append_is_sent_through_faust(
    producer: AIOKafkaProducer, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline, dlq = _worker(producer)
    assert pipeline.processor_for(0) is not None

    def refused(*_: Any) -> int:
        raise AssertionError("Unrecognized partition")

    monkeypatch.setattr(producer, "_partition", refused)
    assert await pipeline.handle(_message(0, b"{not json"))
    assert len(dlq.keys) == 1 and [tp.topic for tp in _queued(producer)] == [TOPIC]


def _batch(
    producer: AIOKafkaProducer, tp: TopicPartition
) -> list[tuple[bytes | None, bytes | None]]:
    return records(producer._message_accumulator._batches[tp][0])


async def test_a_messages_account_activity_is_appended_before_its_rows(
    producer: AIOKafkaProducer,
) -> None:
    pipeline, _ = _worker(producer)
    assert pipeline.processor_for(0) is not None
    producer._message_accumulator._batches.clear()  # what the restore wrote
    event = ev("page_view", "ana", 60, account_id="acme")
    assert await pipeline.handle(_message(0, encode(event)))
    first, rows = _queued(producer)
    assert first.topic == ACTIVITY and rows.topic == TOPIC
    [(key, record)] = _batch(producer, first)
    assert key is not None and record is not None
    [activity] = unpack(record)
    assert key == activity.account.encode() and not activity.erase
    assert first.partition == partition_for(key, 3)  # where the account stage reads it
    assert pipeline.topology.activities.keys == []  # nothing through Faust's path


async def test_an_erasures_tombstones_and_account_erase_go_before_its_rows(
    producer: AIOKafkaProducer,
) -> None:
    pipeline, dlq = _worker(producer)
    assert pipeline.processor_for(0) is not None
    assert await pipeline.handle(_message(0, b"{not json"))  # a letter keyed by the customer
    assert await pipeline.handle(_message(1, encode(ev("page_view", "ana", 60, account_id="a"))))
    producer._message_accumulator._batches.clear()
    erase = _message(2, b"{}")
    erase.headers = [(CONTROL_HEADER, b"erase")]
    assert await pipeline.handle(erase)
    *ahead, rows = _queued(producer)
    assert {tp.topic for tp in ahead} == {DLQ, ACTIVITY} and rows.topic == TOPIC
    [tombstone] = [r for tp in ahead if tp.topic == DLQ for r in _batch(producer, tp)]
    assert tombstone[0] is not None and tombstone[0].endswith(b"/0") and tombstone[1] is None
    [(_, record)] = [r for tp in ahead if tp.topic == ACTIVITY for r in _batch(producer, tp)]
    assert record is not None and [a.erase for a in unpack(record)] == [True]
    assert dlq.keys == [] and pipeline.topology.activities.keys == []


async def test_without_the_activity_topics_metadata_activity_is_sent_after_the_rows(
    producer: AIOKafkaProducer,
) -> None:
    pipeline, _ = _worker(producer, activity_partitions=0)
    assert pipeline.processor_for(0) is not None
    producer._message_accumulator._batches.clear()
    assert await pipeline.handle(_message(0, encode(ev("page_view", "ana", 60, account_id="a"))))
    assert [tp.topic for tp in _queued(producer)] == [TOPIC]
    assert len(pipeline.topology.activities.keys) == 1 and ACTIVITY in producer.client._topics


@pytest.mark.source_core  # patches the processor: compiled callers never look it up
@pytest.mark.parametrize("fails", [False, True], ids=["tick", "tick failing after its rows"])
async def test_what_a_tick_sends_besides_rows_goes_ahead_of_them(
    producer: AIOKafkaProducer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    fails: bool,
) -> None:
    """A claim answered as sessions close can make account activity in the flush timer.

    A tick that fails after writing rows pauses its partition but still sends what it made.
    """
    pipeline, _ = _worker(producer)
    processor = pipeline.processor_for(0)
    assert processor is not None
    producer._message_accumulator._batches.clear()

    def tick(self: Any, _now_ms: int) -> None:
        self.store.put("0/c/device", b"row")
        self.outbox.append(AccountActivity("acme", "device", ms(60), 0, erase=True))
        if fails:
            raise RuntimeError("a bug after the row was written")

    monkeypatch.setattr(type(processor), "tick", tick)
    with caplog.at_level(logging.ERROR):
        await pipeline.housekeeping()
    assert (0 in pipeline.worker.failed) is fails  # paused only by a failure
    activity, rows = _queued(producer)
    assert activity.topic == ACTIVITY and rows.topic == TOPIC
    assert processor.outbox == [] and pipeline.topology.activities.keys == []


async def test_records_after_one_sent_through_faust_follow_it_until_it_is_acknowledged(
    producer: AIOKafkaProducer,
) -> None:
    """Appended, a later record of the account could overtake it (an erase its visit)."""
    pipeline, _ = _worker(producer, activity_partitions=0)
    activities = pipeline.topology.activities = Sent(futures=True)
    assert pipeline.processor_for(0) is not None and activities.futures is not None
    visit = ev("page_view", "ana", 60, account_id="a")
    assert await pipeline.handle(_message(0, encode(visit)))  # no metadata yet: Faust's path
    cluster = producer.client.cluster
    cluster._partitions[ACTIVITY] = {p: SimpleNamespace(leader=1) for p in range(3)}
    producer._message_accumulator._batches.clear()
    assert await pipeline.handle(_message(1, encode(ev("page_view", "ana", 61, account_id="a"))))
    assert len(activities.keys) == 2 and [tp.topic for tp in _queued(producer)] == [TOPIC]
    for future in activities.futures:
        future.set_result(None)
    await asyncio.sleep(0)  # the done callbacks
    assert await pipeline.handle(_message(2, encode(ev("page_view", "ana", 62, account_id="a"))))
    assert len(activities.keys) == 2 and ACTIVITY in {tp.topic for tp in _queued(producer)}


@pytest.mark.source_core  # patches the processor: compiled callers never look it up
async def test_a_refused_send_of_the_timer_is_logged_and_the_timer_goes_on(
    producer: AIOKafkaProducer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    pipeline, _ = _worker(producer, activity_partitions=0)
    processor = pipeline.processor_for(0)
    assert processor is not None

    def tick(self: Any, _now_ms: int) -> None:
        self.outbox.append(AccountActivity("acme", "device", ms(60), 0, erase=True))

    async def refused(**_: Any) -> None:
        raise RuntimeError("producer closed")

    monkeypatch.setattr(type(processor), "tick", tick)
    monkeypatch.setattr(pipeline.topology.activities, "send", refused)
    with caplog.at_level(logging.ERROR):
        await pipeline.housekeeping()  # does not raise: the timer must not stop
    assert "refused" in caplog.text and 0 not in pipeline.worker.failed
    assert pipeline.worker.changelog is not None
    assert pipeline.worker.changelog.append_keyed(ACTIVITY, b"k", b"v", []) is None  # no metadata
    cluster = producer.client.cluster
    cluster._partitions[ACTIVITY] = {p: SimpleNamespace(leader=1) for p in range(3)}
    assert pipeline.worker.changelog.append_keyed(ACTIVITY, b"k", b"v", []) is not None  # over


async def test_an_identity_records_account_activity_goes_ahead_of_its_rows(
    producer: AIOKafkaProducer,
) -> None:
    """A login claims a device that acted for an account: the device's partition links it and
    tells the account to forget the device's person (the customer counts from now on)."""
    pipeline, _ = _worker(producer)
    assert pipeline.processor_for(0) is not None
    device = ev("page_view", "device-of-ana", 60, account_id="acme")
    assert await pipeline.handle(_message(0, encode(device), key=b"device-of-ana"))
    assert await pipeline.handle(_message(1, encode(ev("identify", "ana", 61))))
    # Past the claim's time: the device's partition answers the claim when it arrives.
    assert await pipeline.handle(_message(2, encode(ev("page_view", "bob", 200)), key=b"bob"))
    [batch] = [pipeline.sender.queue.get_nowait() for _ in range(pipeline.sender.queue.qsize())]
    claim = batch.sends[0]
    producer._message_accumulator._batches.clear()
    record = SimpleNamespace(partition=0, offset=0, key=claim.key, value=claim.value, headers=[])
    assert await pipeline.handle_identity(record)
    activity, rows = _queued(producer)
    assert activity.topic == ACTIVITY and rows.topic == TOPIC
    [(_, packed)] = _batch(producer, activity)
    assert packed is not None and [a.erase for a in unpack(packed)] == [True]
    assert pipeline.topology.activities.keys == []
