"""The worker's store: rows go to the changelog packed, memory keeps JSON, restores read both."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from tests.unit.helpers import config, encode, ev, ms, samples_of
from tests.unit.test_changelog_codec import naming_dictionary
from tracker.core.memory_store import MemoryStore
from tracker.kafka.changelog_codec import Codec, is_packed, pack
from tracker.stream.pipeline import Pipeline, Topology, WorkerState
from tracker.stream.store import FaustStore
from tracker.testing.reference import ReferencePipeline
from tracker.testing.streams import generated_messages

PARTITIONS = 4


@dataclass
class Table:
    """What FaustStore uses of a Faust table: its memory store and ``send_changelog``."""

    log: list[tuple[int, bytes, bytes | None]] = field(default_factory=list)
    data: Any = field(default_factory=lambda: SimpleNamespace(data={}, _key_partition={}))

    def send_changelog(self, partition: int, key: bytes, value: bytes | None, *_: str) -> None:
        self.log.append((partition, key, value))

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


def test_a_row_goes_to_the_changelog_packed_and_stays_json_in_memory() -> None:
    table = Table()
    store = FaustStore(table, 2, codec="zstd")
    store.put("2/c/a", b'{"s":null,"o":1}')
    assert table.log == [(2, b"2/c/a", pack(b'{"s":null,"o":1}', "zstd"))]
    assert table.data.data == {b"2/c/a": b'{"s":null,"o":1}'}  # memory: JSON
    assert store.get("2/c/a") == b'{"s":null,"o":1}'
    assert table.data._key_partition == {b"2/c/a": 2}
    FaustStore(table, 2, codec="none").put("2/c/b", b"{}")
    assert table.log[-1] == (2, b"2/c/b", b"{}")


def test_restored_packed_rows_read_as_json_once_and_stay_so() -> None:
    written = Table()
    store = FaustStore(written, 1, codec="zstd")
    store.put("1/c/a", b'{"o":1}')
    store.put("1/agg", b'{"c":{}}')
    table = written.restored()
    restored = FaustStore(table, 1, codec="zstd")
    assert all(is_packed(v) for v in restored._rows.values())  # what the changelog held
    first = restored.get("1/c/a")
    assert first == b'{"o":1}'
    assert restored.get("1/c/a") is first  # unpacked once: the object kept is the one lent
    assert restored.items("1/agg") == [("1/agg", b'{"c":{}}')]
    assert restored._rows[b"1/agg"] == b'{"c":{}}'
    assert table.log == written.log  # nothing written back: zstd is what the log holds


def test_with_codec_none_a_restore_writes_packed_rows_back_as_json() -> None:
    written = Table()
    FaustStore(written, 1, codec="zstd").put("1/c/a", b'{"o":1}')
    FaustStore(written, 1, codec="none").put("1/c/b", b'{"o":2}')
    table = written.restored()
    restored = FaustStore(table, 1, codec="none")
    assert sorted(restored.items("1/")) == [("1/c/a", b'{"o":1}'), ("1/c/b", b'{"o":2}')]
    assert table.log[len(written.log) :] == [(1, b"1/c/a", b'{"o":1}')]  # the packed one only
    again = table.restored()
    assert not any(is_packed(v) for v in again.data.data.values())  # a rollback can read it


def _worker(table: Table, codec: Codec) -> tuple[Pipeline, list[int]]:
    settings = SimpleNamespace(topic="t", dlq_topic="t-dlq", worker_id="w", changelog_codec=codec)
    worker = WorkerState(settings=settings, config=config(), partitions=1)  # type: ignore[arg-type]
    topology = Topology(
        source=None, dlq=None, activities=None, identity=None, table=table, account_table=Table()
    )
    paused: list[int] = []
    return Pipeline(worker, topology, paused.append), paused


@pytest.mark.parametrize("codec", ["zstd", "none"])
def test_the_worker_writes_its_changelog_with_the_codec_its_setting_names(codec: Codec) -> None:
    table = Table()
    pipeline, _ = _worker(table, codec)
    processor = pipeline.processor_for(0)
    assert processor is not None
    processor.process(b"ana", encode(ev("page_view", "ana", 60)), 0, ms(60), ms(60))
    values = [v for _, _, v in table.log if v is not None]
    assert values and all(is_packed(v) == (codec == "zstd") for v in values)


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


def test_a_changelog_of_json_and_packed_rows_restores_what_was_counted() -> None:
    # A rolling upgrade and its rollback: the codec changes every quarter of the stream.
    codecs: list[Codec] = ["none", "zstd", "none", "zstd"]
    tables = {p: Table() for p in range(PARTITIONS)}
    stores = {p: FaustStore(t, p, codec="zstd") for p, t in tables.items()}

    def switch(i: int) -> None:
        for store in stores.values():
            store.codec = codecs[i * len(codecs) // len(MESSAGES)]

    live = _played(stores, switch)
    plain = _played({p: MemoryStore() for p in range(PARTITIONS)})
    cfg, now = live.config, live.now_ms
    assert repr(samples_of(live.processors, cfg, now)) == repr(
        samples_of(plain.processors, cfg, now)
    )
    restored = {}
    for p, table in tables.items():
        memory = table.restored()
        restored[p] = cfg.processor(p, FaustStore(memory, p, codec="zstd"), PARTITIONS)
        restored[p].recover(now)
        assert not any(is_packed(v) for v in memory.data.data.values())  # all read as JSON
    assert repr(samples_of(restored, cfg, now)) == repr(samples_of(plain.processors, cfg, now))
    values = [v for t in tables.values() for _, _, v in t.log if v is not None]
    assert any(is_packed(v) for v in values) and any(not is_packed(v) for v in values)
