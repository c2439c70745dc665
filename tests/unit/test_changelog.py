"""Changelog records appended to the producer's open batch, as aiokafka's ``send`` would.

On a real aiokafka producer, never started against a broker: its accumulator is the
one a started producer's sender drains (``_pop_batch``, as the sender does).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import aiokafka
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.producer.message_accumulator import MessageAccumulator
from aiokafka.record.default_records import DefaultRecordBatch
from aiokafka.structs import TopicPartition

from tracker.stream.changelog import QUEUED_BATCHES, ChangelogAppender
from tracker.stream.pending import PendingWrites
from tracker.stream.store import FaustStore

TOPIC = "worker-customers-changelog"


@dataclass
class Table:
    """What the appender uses of a Faust table: its changelog topic and Faust's path."""

    faust_path: list[tuple[int, bytes, bytes | None]] = field(default_factory=list)
    changelog_topic: Any = field(default_factory=lambda: SimpleNamespace(get_topic_name=_topic))
    data: Any = field(default_factory=lambda: SimpleNamespace(data={}, _key_partition={}))

    def send_changelog(self, partition: int, key: bytes, value: bytes | None, *_: str) -> Any:
        self.faust_path.append((partition, key, value))
        return asyncio.get_running_loop().create_future()


def _topic() -> str:
    return TOPIC


class Fixture:
    def __init__(self, **producer: Any) -> None:
        self.producer = AIOKafkaProducer(bootstrap_servers="127.0.0.1:1", **producer)
        self.pending = PendingWrites()
        self.appender = ChangelogAppender(SimpleNamespace(_producer=self.producer), self.track)
        self.tracked: list[Any] = []
        self.table = Table()

    def track(self, sent: Any) -> None:
        self.tracked.append(sent)
        self.pending.track(sent)

    @property
    def accumulator(self) -> MessageAccumulator:
        return self.producer._message_accumulator

    def queued(self, partition: int) -> list[Any]:
        return list(self.accumulator._batches.get(TopicPartition(TOPIC, partition), ()))

    def take(self, partition: int) -> Any:
        """What aiokafka's sender does with a partition's oldest batch."""
        return self.accumulator._pop_batch(TopicPartition(TOPIC, partition))


@pytest.fixture
def made() -> Iterator[Callable[..., Fixture]]:
    """Fixtures with the producer settings asked for; their producers were never started."""
    fixtures: list[Fixture] = []

    def make(**producer: Any) -> Fixture:
        fixtures.append(Fixture(**producer))
        return fixtures[-1]

    yield make
    for fixture in fixtures:
        fixture.producer._closed = True  # nothing to close: no connection was made


def records(batch: Any) -> list[tuple[bytes | None, bytes | None]]:
    """The (key, value) pairs of a batch as the broker receives them, in log order."""
    return [(r.key, r.value) for r in DefaultRecordBatch(bytes(batch.get_data_buffer()))]


async def test_records_go_into_the_partitions_open_batch_in_write_order(
    made: Callable[..., Fixture],
) -> None:
    f = made()
    one, two = f.appender.partition(f.table, 1), f.appender.partition(f.table, 2)
    first = one.send(b"1/c/a", b"row a")
    assert two.send(b"2/c/b", b"row b") is not first  # another partition, another batch
    assert one.send(b"1/c/a", None) is first  # a tombstone, in the same batch
    assert one.send(b"1/agg", b"counters") is first
    [batch] = f.queued(1)
    assert batch.future is first and f.take(1) is batch
    assert records(batch) == [(b"1/c/a", b"row a"), (b"1/c/a", None), (b"1/agg", b"counters")]
    assert records(f.take(2)) == [(b"2/c/b", b"row b")]
    assert f.table.faust_path == []
    assert f.producer.client._topics == {TOPIC}  # its leader is learned with the metadata


async def test_each_batch_is_tracked_once_and_acknowledges_all_its_records(
    made: Callable[..., Fixture],
) -> None:
    f = made()
    writer = f.appender.partition(f.table, 0)
    futures = [writer.send(b"0/c/%d" % i, b"row") for i in range(10)]
    assert f.tracked == [futures[0]] and len(set(map(id, futures))) == 1
    batch = f.take(0)
    later = writer.send(b"0/c/x", b"row")  # the batch was taken: a new one behind it
    assert later is not futures[0] and f.tracked == [futures[0], later]
    batch.done(base_offset=100)
    await asyncio.sleep(0)
    assert futures[0].result().offset == 100
    assert f.pending.futures == {later}  # the commit now waits only for the newer batch


async def test_a_full_batch_gets_a_new_one_and_the_agent_waits_while_too_many_queue(
    made: Callable[..., Fixture],
) -> None:
    f = made(max_batch_size=1024)
    _, ebb = await _waiting(f)
    batches = f.queued(3)
    assert len(batches) > QUEUED_BATCHES
    keys = [k for b in batches for k, _ in records(b)]
    assert keys == [b"3/c/%d" % i for i in range(40)]  # across batches, in write order
    assert not ebb.done()
    while len(f.queued(3)) > QUEUED_BATCHES:
        f.take(3)
        await asyncio.sleep(0)
    await asyncio.wait_for(ebb, 1)
    await asyncio.wait_for(f.appender.ebb(), 1)  # nothing crowded since: returns at once


async def _waiting(f: Fixture) -> tuple[Any, asyncio.Future[None]]:
    """Partition 3 written into ~4 batches of 1 KiB, and an agent waiting at ``ebb()``."""
    writer = f.appender.partition(f.table, 3)
    for i in range(40):  # ~100 bytes a record: a batch holds about ten
        writer.send(b"3/c/%d" % i, b"x" * 80)
    ebb = asyncio.ensure_future(f.appender.ebb())
    await asyncio.sleep(0.01)
    return writer, ebb


async def test_a_record_over_the_request_limit_takes_fausts_path_and_fails_there(
    made: Callable[..., Fixture],
) -> None:
    f = made(max_request_size=4096)
    writer = f.appender.partition(f.table, 0)
    writer.send(b"0/c/a", b"small")
    sent = writer.send(b"0/c/b", b"x" * 5000)
    assert f.table.faust_path == [(0, b"0/c/b", b"x" * 5000)]
    assert f.tracked[-1] is sent  # the commit waits for it, as for Faust's own records
    assert records(f.take(0)) == [(b"0/c/a", b"small")]
    big_but_fits = writer.send(b"0/c/c", b"x" * 3000)  # over the batch size, under the limit
    assert records(f.take(0)) == [(b"0/c/c", b"x" * 3000)] and big_but_fits is not sent


async def test_a_closed_or_failed_producer_leaves_records_to_fausts_path(
    made: Callable[..., Fixture],
) -> None:
    f = made()
    writer = f.appender.partition(f.table, 0)
    f.accumulator._exception = RuntimeError("fatal")
    writer.send(b"0/c/a", b"row")
    f.accumulator._exception = None
    f.accumulator._closed = True
    writer.send(b"0/c/b", b"row")
    assert [k for _, k, _ in f.table.faust_path] == [b"0/c/a", b"0/c/b"]
    assert f.queued(0) == []


async def test_before_the_producer_starts_records_take_fausts_path(
    made: Callable[..., Fixture],
) -> None:
    f = made()
    appender = ChangelogAppender(SimpleNamespace(_producer=None), f.track)
    appender.partition(f.table, 0).send(b"0/c/a", b"row")
    assert f.table.faust_path == [(0, b"0/c/a", b"row")]


async def test_another_accumulator_shape_turns_the_appender_off_with_a_warning(
    made: Callable[..., Fixture], caplog: pytest.LogCaptureFixture
) -> None:
    f = made()
    producer = SimpleNamespace(_message_accumulator=SimpleNamespace(_batches={}))
    appender = ChangelogAppender(SimpleNamespace(_producer=producer), f.track)
    with caplog.at_level(logging.WARNING, "tracker.stream.worker"):
        appender.partition(f.table, 0).send(b"0/c/a", b"row")
        appender.partition(f.table, 0).send(b"0/c/b", b"row")
    assert len(f.table.faust_path) == 2 and not appender.enabled
    assert "go through Faust's producer buffer" in caplog.text


async def test_the_worker_store_writes_through_the_appender(made: Callable[..., Fixture]) -> None:
    f = made()
    store = FaustStore(f.table, 5, f.pending, codec="none", appender=f.appender)
    store.put("5/c/a", b'{"o":1}')
    store.delete("5/c/b")
    assert store.last_write is f.queued(5)[0].future  # identity records wait for it
    assert records(f.take(5)) == [(b"5/c/a", b'{"o":1}'), (b"5/c/b", None)]
    assert f.table.data.data == {b"5/c/a": b'{"o":1}'} and f.table.faust_path == []


async def test_a_topic_the_producer_knows_is_not_added_to_its_metadata_topics(
    made: Callable[..., Fixture],
) -> None:
    """Adding it would narrow the producer's metadata from all topics to that one."""
    f = made()
    f.producer.client.cluster._partitions[TOPIC] = {0: SimpleNamespace(leader=1)}
    f.appender.partition(f.table, 0).send(b"0/c/a", b"row")
    assert f.producer.client._topics == set()  # still every topic's metadata


async def test_a_topic_a_narrowed_metadata_update_dropped_is_tracked_again(
    made: Callable[..., Fixture],
) -> None:
    """Another topic's send narrows the producer's metadata to it: the next update drops the
    changelog's partitions, and their batches would wait for leaders no update brings."""
    f = made()
    client = f.producer.client
    client.cluster._partitions[TOPIC] = {0: SimpleNamespace(leader=1)}
    writer = f.appender.partition(f.table, 0)
    writer.send(b"0/c/a", b"row")
    client.add_topic("worker-dead-letters")  # as aiokafka's send of a dead letter does
    del client.cluster._partitions[TOPIC]  # the next update asked for that topic alone
    writer.send(b"0/c/b", b"row")
    assert client._topics == {"worker-dead-letters", TOPIC}
    assert records(f.take(0)) == [(b"0/c/a", b"row"), (b"0/c/b", b"row")]


async def test_a_failed_producer_ends_the_wait_and_fails_the_commit(
    made: Callable[..., Fixture],
) -> None:
    f = made(max_batch_size=1024)
    writer, ebb = await _waiting(f)
    f.accumulator.fail_all(RuntimeError("the sender died"))
    await asyncio.wait_for(ebb, 1)  # not a spin over batches that never drain
    with pytest.raises(RuntimeError, match="write failed"):
        await f.pending.wait(timeout=1)
    assert writer.send(b"3/c/x", b"row") is not None and f.table.faust_path[-1][1] == b"3/c/x"
    for batch in f.queued(3):  # read, as aiokafka's send would have: no warning at exit
        batch._drain_waiter.exception()


async def test_a_cancelled_wait_leaves_the_partition_to_wait_for_next_time(
    made: Callable[..., Fixture],
) -> None:
    f = made(max_batch_size=1024)
    _, ebb = await _waiting(f)
    ebb.cancel()
    with pytest.raises(asyncio.CancelledError):
        await ebb
    again = asyncio.ensure_future(f.appender.ebb())
    await asyncio.sleep(0.01)
    assert not again.done()  # still crowded: it waits again
    again.cancel()


async def test_a_retried_batch_stays_ahead_of_records_written_since(
    made: Callable[..., Fixture],
) -> None:
    f = made()
    writer = f.appender.partition(f.table, 0)
    writer.send(b"0/c/a", b"first")
    taken = f.take(0)
    taken.get_data_buffer()  # built for its request, which failed: back to the front
    f.accumulator.reenqueue(taken)
    writer.send(b"0/c/b", b"second")
    first, second = f.queued(0)
    assert first is taken and records(second) == [(b"0/c/b", b"second")]


async def test_a_batch_whose_partition_never_gets_a_leader_fails_the_commit(
    made: Callable[..., Fixture],
) -> None:
    f = made(request_timeout_ms=1)
    f.appender.partition(f.table, 0).send(b"0/c/a", b"row")
    await asyncio.sleep(0.01)
    f.accumulator.drain_by_nodes(ignore_nodes=set())  # the sender: no leader, expired
    with pytest.raises(RuntimeError, match="write failed"):
        await f.pending.wait(timeout=1)


async def test_the_producers_flush_waits_for_appended_records(
    made: Callable[..., Fixture],
) -> None:
    """What Faust's flush before a commit, a rebalance or a recovery read relies on."""
    f = made()
    f.appender.partition(f.table, 0).send(b"0/c/a", b"row")
    flush = asyncio.ensure_future(f.accumulator.flush())
    await asyncio.sleep(0.01)
    assert not flush.done()
    f.take(0).done(base_offset=7)
    await asyncio.wait_for(flush, 1)


async def test_a_restarted_producer_is_appended_to_and_a_stopped_one_is_not(
    made: Callable[..., Fixture],
) -> None:
    f, g = made(), made()
    faust_producer = SimpleNamespace(_producer=f.producer)
    appender = ChangelogAppender(faust_producer, f.track)
    writer = appender.partition(f.table, 0)
    writer.send(b"0/c/a", b"row")
    faust_producer._producer = None  # Faust's stop drops it before the accumulator closes
    writer.send(b"0/c/b", b"row")
    faust_producer._producer = g.producer
    writer.send(b"0/c/c", b"row")
    assert [k for k, _ in records(f.take(0))] == [b"0/c/a"]
    assert f.table.faust_path == [(0, b"0/c/b", b"row")]
    assert [k for k, _ in records(g.take(0))] == [b"0/c/c"]


@pytest.mark.parametrize(
    "app",
    [
        SimpleNamespace(in_transaction=True, conf=SimpleNamespace(producer_threaded=False)),
        SimpleNamespace(in_transaction=False, conf=SimpleNamespace(producer_threaded=True)),
    ],
)
async def test_exactly_once_or_a_threaded_producer_keeps_fausts_path(
    made: Callable[..., Fixture], app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    f = made()
    appender = ChangelogAppender(SimpleNamespace(_producer=f.producer, app=app), f.track)
    with caplog.at_level(logging.WARNING, "tracker.stream.worker"):
        appender.partition(f.table, 0).send(b"0/c/a", b"row")
    assert f.table.faust_path == [(0, b"0/c/a", b"row")] and f.queued(0) == []
    assert "exactly-once or threaded" in caplog.text


async def test_held_records_are_appended_in_order_when_released(
    made: Callable[..., Fixture],
) -> None:
    f = made()
    store = FaustStore(f.table, 0, f.pending, codec="none", appender=f.appender)
    store.put("0/c/a", b"before")
    before = store.last_write
    store.defer_writes()
    store.put("0/c/b", b"held 1")
    store.delete("0/c/c")
    assert f.queued(0)[0].record_count == 1  # not yet (counted: reading would build it)
    assert store.last_write is before and store.get("0/c/b") == b"held 1"  # memory is
    store.write_deferred()
    [batch] = f.queued(0)
    assert records(batch) == [(b"0/c/a", b"before"), (b"0/c/b", b"held 1"), (b"0/c/c", None)]
    assert store.last_write is batch.future and store.changelog is not None
    assert store.changelog.held is None
    store.write_deferred()  # nothing held: nothing written, nothing lost
    assert len(records(f.queued(0)[0])) == 3


async def test_a_keyed_record_it_cannot_append_now_is_left_to_the_caller(
    made: Callable[..., Fixture],
) -> None:
    f = made(max_request_size=4096)
    assert f.appender.append_keyed("dlq", b"k", b"letter", []) is None  # partitions unknown
    assert "dlq" in f.producer.client._topics
    f.producer.client.cluster._partitions["dlq"] = {0: SimpleNamespace(leader=1)}
    assert f.appender.append_keyed("dlq", b"k", b"x" * 5000, []) is None  # over the limit
    assert f.appender.append_keyed("dlq", b"k", b"letter", [("h", b"v")]) is not None
    [batch] = f.accumulator._batches[TopicPartition("dlq", 0)]
    [record] = DefaultRecordBatch(bytes(batch.get_data_buffer()))
    assert (record.key, record.value, record.headers) == (b"k", b"letter", [("h", b"v")])


async def test_a_record_for_a_named_partition_goes_there_or_to_the_caller_in_order(
    made: Callable[..., Fixture],
) -> None:
    f = made()  # identity records name their target partition (stream.identity)
    f.producer.client.cluster._partitions["ids"] = {p: SimpleNamespace(leader=1) for p in (0, 1)}
    for key, partition in [(b"a", 1), (b"b", 0)]:
        assert f.appender.append_or_detour("ids", key, b"", [], partition)
    assert not f.appender.append_or_detour("ids", b"c", b"", [], 5)  # no such partition
    assert not f.appender.append_or_detour("ids", b"d", b"", [], 0)  # follows c via Faust
    for _ in range(2):  # their sends are done
        f.appender.arrived("ids")
    assert f.appender.append_or_detour("ids", b"e", b"", [], 0)
    queued = f.accumulator._batches
    assert [r[0] for b in queued[TopicPartition("ids", 0)] for r in records(b)] == [b"b", b"e"]
    assert [r[0] for b in queued[TopicPartition("ids", 1)] for r in records(b)] == [b"a"]


def test_pinned_aiokafka_internals_are_those_the_appender_mirrors() -> None:
    """aiokafka 0.14's ``send`` appends to the partition's last batch, else adds one."""
    assert aiokafka.__version__.startswith("0.14."), "re-read MessageAccumulator.add_message"
    source = inspect.getsource(MessageAccumulator.add_message)
    assert "pending_batches = self._batches.get(tp)" in source
    assert "batch = self._append_batch(builder, tp)" in source
    assert "batch = pending_batches[-1]" in source
    assert "self._closed" in source and "self._exception" in source
    drain = inspect.getsource(MessageAccumulator.drain_by_nodes)
    assert "if tp in muted_partitions" in drain  # one batch in flight per partition
