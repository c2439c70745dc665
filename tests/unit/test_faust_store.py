"""The worker's store: rows go to the changelog packed, memory keeps JSON, restores read both."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from tests.unit.helpers import config, encode, ev, ms, samples_of
from tests.unit.test_changelog_codec import naming_dictionary
from tracker.core.accounts import AccountActivity
from tracker.core.memory_store import MemoryStore
from tracker.kafka.changelog_codec import Codec, is_packed, pack, unpack
from tracker.stream.pipeline import Pipeline, Topology, WorkerState
from tracker.stream.store import FaustStore, changelog_send
from tracker.testing.reference import ReferencePipeline
from tracker.testing.streams import generated_messages

PARTITIONS = 4


@dataclass
class Table:
    """What FaustStore uses of a Faust table: its memory store, changelog topic and producer."""

    log: list[tuple[int, bytes, bytes | None]] = field(default_factory=list)
    data: Any = field(default_factory=lambda: SimpleNamespace(data={}, _key_partition={}))

    @property
    def changelog_topic(self) -> Any:
        return SimpleNamespace(get_topic_name=lambda: "w-rows-changelog")

    @property
    def app(self) -> Any:
        return SimpleNamespace(producer=self)

    async def send(
        self, topic: str, key: bytes, value: bytes | None, partition: int, *_: Any
    ) -> Any:
        assert topic == "w-rows-changelog"
        self.log.append((partition, key, value))
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        done.set_result(len(self.log) - 1)  # acknowledged at once: its place in the log
        return done

    def store(self, partition: int, codec: Codec) -> FaustStore:
        return FaustStore(self, partition, codec=codec, send=changelog_send(self))

    def restored(self) -> Table:
        """A new worker's table after Faust's restore: the changelog's last values, as sent."""
        table = Table(list(self.log))
        for partition, key, value in self.log:
            if value is None:
                table.data.data.pop(key, None)
                table.data._key_partition.pop(key, None)
            else:
                table.data.data[key] = value
                table.data._key_partition[key] = partition
        return table


async def test_a_row_goes_to_the_changelog_packed_and_stays_json_in_memory() -> None:
    table = Table()
    store = table.store(2, "zstd")
    store.put("2/c/a", b'{"s":null,"o":1}')
    assert table.log == []  # written out by the wiring, after the message
    assert table.data.data == {b"2/c/a": b'{"s":null,"o":1}'}  # memory: JSON, at once
    assert store.get("2/c/a") == b'{"s":null,"o":1}'
    assert table.data._key_partition == {b"2/c/a": 2}
    await store.write_out()
    assert table.log == [(2, b"2/c/a", pack(b'{"s":null,"o":1}', "zstd"))]
    assert store.last_write is not None and store.outgoing == []
    plain = table.store(2, "none")
    plain.put("2/c/b", b"{}")
    await plain.write_out()
    assert table.log[-1] == (2, b"2/c/b", b"{}")


async def test_restored_packed_rows_read_as_json_once_and_stay_so() -> None:
    written = Table()
    store = written.store(1, "zstd")
    store.put("1/c/a", b'{"o":1}')
    store.put("1/agg", b'{"c":{}}')
    await store.write_out()
    table = written.restored()
    restored = table.store(1, "zstd")
    assert all(is_packed(v) for v in restored._rows.values())  # what the changelog held
    first = restored.get("1/c/a")
    assert first == b'{"o":1}'
    assert restored.get("1/c/a") is first  # unpacked once: the object kept is the one lent
    assert restored.items("1/agg") == [("1/agg", b'{"c":{}}')]
    assert restored._rows[b"1/agg"] == b'{"c":{}}'
    await restored.write_out()
    assert table.log == written.log  # nothing written back: zstd is what the log holds


async def test_with_codec_none_a_restore_writes_packed_rows_back_as_json() -> None:
    written = Table()
    for codec, key, value in [("zstd", "1/c/a", b'{"o":1}'), ("none", "1/c/b", b'{"o":2}')]:
        store = written.store(1, codec)  # type: ignore[arg-type]
        store.put(key, value)
        await store.write_out()
    table = written.restored()
    restored = table.store(1, "none")
    assert sorted(restored.items("1/")) == [("1/c/a", b'{"o":1}'), ("1/c/b", b'{"o":2}')]
    await restored.write_out()
    assert table.log[len(written.log) :] == [(1, b"1/c/a", b'{"o":1}')]  # the packed one only
    again = table.restored()
    assert not any(is_packed(v) for v in again.data.data.values())  # a rollback can read it


class Slow(Table):
    """A producer whose sends take a turn of the event loop each, and may refuse one."""

    refuse: Any = staticmethod(lambda _key: False)

    async def send(
        self, topic: str, key: bytes, value: bytes | None, partition: int, *_: Any
    ) -> Any:
        await asyncio.sleep(0)
        if self.refuse(key):
            raise RuntimeError("broker gone")
        return await super().send(topic, key, value, partition)


async def test_two_write_outs_at_once_keep_the_order_rows_were_written() -> None:
    # Two agents (input, identity) write the same partition; a restore keeps the last value.
    table = Slow()
    store = table.store(0, "none")
    for key in ("0/c/a", "0/c/b", "0/c/c"):
        store.put(key, b"1")
    first = asyncio.ensure_future(store.write_out())
    await asyncio.sleep(0)  # the first is between its sends
    store.put("0/c/c", b"2")
    store.delete("0/c/a")
    await asyncio.gather(first, store.write_out())
    assert [(k, v) for _, k, v in table.log] == [
        (b"0/c/a", b"1"),
        (b"0/c/b", b"1"),
        (b"0/c/c", b"1"),
        (b"0/c/c", b"2"),
        (b"0/c/a", None),
    ]


async def test_a_refused_send_keeps_the_unsent_rows_in_order_and_raises() -> None:
    table = Slow()
    table.refuse = lambda key: key == b"0/c/b"
    store = table.store(0, "none")
    for key in ("0/c/a", "0/c/b", "0/c/c"):
        store.put(key, b"1")
    with pytest.raises(RuntimeError, match="broker gone"):
        await store.write_out()
    assert table.log == [(0, b"0/c/a", b"1")]
    assert store.outgoing == [(b"0/c/b", b"1"), (b"0/c/c", b"1")]
    table.refuse = lambda _key: False
    await store.write_out()
    assert [k for _, k, _ in table.log] == [b"0/c/a", b"0/c/b", b"0/c/c"]


@dataclass
class Writer:
    """What ``Pipeline._emit`` takes from a processor: its store and what a message made."""

    store: FaustStore
    partition: int = 0
    identity: Any = None
    erased_letters: list[str] = field(default_factory=list)
    outbox: list[Any] = field(default_factory=list)
    made: list[Any] = field(default_factory=list)  # identity records not yet taken

    def __post_init__(self) -> None:
        self.identity = SimpleNamespace(take=self.take)

    def take(self) -> list[Any]:
        taken, self.made = self.made, []
        return taken

    def apply(self, key: str, record: str) -> None:
        self.store.put(key, b"{}")
        self.made.append(SimpleNamespace(record=record, row=key.encode()))


async def test_identity_records_wait_for_their_own_row_while_another_write_out_runs() -> None:
    # The input agent's write-out is between sends when the identity agent (or the timer)
    # applies a message to the same partition: its record must not leave behind the first
    # message's row, which precedes the row that made it.
    table = Slow()
    pipeline, _ = _worker(table, "none")
    writer = Writer(table.store(0, "none"))
    writer.apply("0/c/a", "from a")
    first = asyncio.ensure_future(pipeline._emit(writer, []))  # type: ignore[arg-type]
    await asyncio.sleep(0)
    writer.apply("0/c/b", "from b")
    await asyncio.gather(first, pipeline._emit(writer, []))  # type: ignore[arg-type]
    queued = []
    while not pipeline.sender.queue.empty():
        queued.append(pipeline.sender.queue.get_nowait())
    assert [[s.record for s in batch.sends] for batch in queued] == [["from a"], ["from b"]]
    for batch in queued:
        (send,) = batch.sends
        row_at = [k for _, k, _ in table.log].index(send.row)
        assert batch.barrier.result() >= row_at, f"{send.record} left behind an earlier row"


def _worker(table: Table, codec: Codec) -> tuple[Pipeline, list[int]]:
    settings = SimpleNamespace(topic="t", changelog_codec=codec)
    worker = WorkerState(settings=settings, config=config(), partitions=1)  # type: ignore[arg-type]
    topology = Topology(
        source=None, dlq=None, activities=None, identity=None, table=table, account_table=Table()
    )
    paused: list[int] = []
    return Pipeline(worker, topology, paused.append), paused


def _message(offset: int) -> Any:
    value = encode(ev("page_view", "ana", 60 + offset))
    return SimpleNamespace(
        partition=0, offset=offset, key=b"ana", value=value, timestamp=ms(60) / 1000, headers=[]
    )


@pytest.mark.parametrize("codec", ["zstd", "none"])
async def test_the_worker_writes_its_changelog_with_the_codec_its_setting_names(
    codec: Codec,
) -> None:
    table = Table()
    pipeline, _ = _worker(table, codec)
    assert await pipeline.handle(_message(0))
    values = [v for _, _, v in table.log if v is not None]
    assert values and all(is_packed(v) == (codec == "zstd") for v in values)
    processor = pipeline.worker.processors[0]
    assert isinstance(processor.store, FaustStore) and processor.store.outgoing == []


async def test_a_refused_state_write_pauses_the_partition_and_leaves_the_message_unacked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    table = Slow()
    pipeline, paused = _worker(table, "zstd")
    assert await pipeline.handle(_message(0))
    table.refuse = lambda _key: True
    with caplog.at_level(logging.ERROR):
        assert await pipeline.handle(_message(1)) is False  # never committed: retried
    assert paused == [0] and pipeline.worker.failed[0].step == "writing state"
    assert "partition 0 paused" in caplog.text
    assert await pipeline.handle(_message(2)) is False  # paused: not applied


async def test_rows_refused_before_a_rebalance_are_sent_before_the_message_is_acked_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A refused send paused the partition; a rebalance hands it back to this worker, which
    # rebuilds its processor from memory (which holds the refused rows) and skips the
    # re-delivered message by its offset. It may acknowledge it only once those rows are
    # in the changelog: the rebuilt processor shares the partition's queue.
    table = Slow()
    pipeline, paused = _worker(table, "zstd")
    assert await pipeline.handle(_message(0))
    table.refuse = lambda _key: True
    with caplog.at_level(logging.ERROR):
        assert await pipeline.handle(_message(1)) is False
    assert paused == [0]
    pipeline.on_revoked([SimpleNamespace(topic="t", partition=0)], "activities")
    table.refuse = lambda _key: False
    pipeline.on_recovered({0})
    assert await pipeline.handle(_message(1))  # skipped by offset, acknowledged
    customer = [(k, v) for _, k, v in table.log if k.startswith(b"0/c/") and v is not None]
    assert orjson.loads(unpack(customer[-1][1]))["o"] == 1  # message 1's row is written


def test_a_row_from_a_newer_dictionary_pauses_its_partition_and_says_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    table = Table()
    table.data.data[b"0/c/x"] = naming_dictionary(0x74726B7F, b'{"o":1}')
    pipeline, paused = _worker(table, "zstd")
    with caplog.at_level(logging.ERROR):
        assert pipeline.processor_for(0) is None
    assert paused == [0]
    assert "0x74726b7f" in caplog.text and "newer release" in caplog.text


MESSAGES = generated_messages(seed=47, events=3_000, rate=20.0)  # logins, erasures too


def _played(stores: dict[int, Any], switch: Any = None) -> ReferencePipeline:
    pipeline = ReferencePipeline(config(), PARTITIONS, stores=stores)
    for i, m in enumerate(MESSAGES):
        if switch is not None:
            switch(i)
        pipeline.feed(m.key, m.value, m.timestamp_ms, m.timestamp_ms)
        if i % 150 == 0:
            pipeline.tick(m.timestamp_ms)
    return pipeline


async def test_a_changelog_of_json_and_packed_rows_restores_what_was_counted() -> None:
    # A rolling upgrade and its rollback: the codec changes every quarter of the stream.
    codecs: list[Codec] = ["none", "zstd", "none", "zstd"]
    tables = {p: Table() for p in range(PARTITIONS)}
    stores = {p: t.store(p, "zstd") for p, t in tables.items()}

    def switch(i: int) -> None:
        for store in stores.values():
            store.codec = codecs[i * len(codecs) // len(MESSAGES)]

    live = _played(stores, switch)  # packed when written: the codec of that moment
    for store in stores.values():
        await store.write_out()
    plain = _played({p: MemoryStore() for p in range(PARTITIONS)})
    cfg, now = live.config, live.now_ms
    assert repr(samples_of(live.processors, cfg, now)) == repr(
        samples_of(plain.processors, cfg, now)
    )
    restored = {}
    for p, table in tables.items():
        memory = table.restored()
        restored[p] = cfg.processor(p, memory.store(p, "zstd"), PARTITIONS)
        restored[p].recover(now)
        assert not any(is_packed(v) for v in memory.data.data.values())  # all read as JSON
    assert repr(samples_of(restored, cfg, now)) == repr(samples_of(plain.processors, cfg, now))
    values = [v for t in tables.values() for _, _, v in t.log if v is not None]
    assert any(is_packed(v) for v in values) and any(not is_packed(v) for v in values)


async def test_a_refused_account_row_leaves_its_record_unacknowledged_and_queued(
    caplog: pytest.LogCaptureFixture,
) -> None:
    accounts = Slow()
    settings = SimpleNamespace(topic="t", changelog_codec="zstd")
    worker = WorkerState(settings=settings, config=config(), partitions=1)  # type: ignore[arg-type]
    topology = Topology(
        source=None, dlq=None, activities=None, identity=None, table=Table(), account_table=accounts
    )
    pipeline = Pipeline(worker, topology)
    record = orjson.dumps([AccountActivity("acct", "ana", ms(60), 0).to_json()])
    message = SimpleNamespace(partition=0, offset=0, key=b"acct", value=record, timestamp=0.0)
    accounts.refuse = lambda _key: True
    with caplog.at_level(logging.ERROR):
        assert await pipeline.handle_activity(message) is False  # not committed
    assert "account partition 0: rows refused (RuntimeError)" in caplog.text
    accounts.refuse = lambda _key: False
    await pipeline.housekeeping()  # the next write-out sends what was refused
    assert any(key == b"0/acct/acct" for _, key, _ in accounts.log)
