"""Rows of a flushed epoch are kept in memory without their deltas; the changelog keeps them whole."""

from __future__ import annotations

import orjson

from tests.unit.helpers import config, samples_of
from tracker.core.aggregates import Delta
from tracker.core.customer import CustomerState
from tracker.core.epoch_writes import EpochWrites
from tracker.core.memory_store import MemoryStore
from tracker.core.row_cache import RowCache
from tracker.core.rows import Row, held_row, row_parts, row_state
from tracker.testing.reference import ReferencePipeline
from tracker.testing.streams import generated_messages

TOUCHPOINTS = ("home", "product")


def _played() -> ReferencePipeline:
    pipeline = ReferencePipeline(config(), 4)
    messages = generated_messages(seed=41, events=3_000, rate=20.0)  # logins, erasures too
    for i, m in enumerate(messages):
        pipeline.feed(m.key, m.value, m.timestamp_ms, m.timestamp_ms)
        if i % 150 == 0:
            pipeline.tick(m.timestamp_ms)  # a flush: the epoch's rows are held from here on
    return pipeline


def _from_memory(store: MemoryStore) -> MemoryStore:
    """A table restored from what memory holds (a rebalance that kept it) instead of the log."""
    restored = MemoryStore()
    restored.rows = dict(store.rows)
    return restored


def _from_log(store: MemoryStore) -> MemoryStore:
    return MemoryStore.replay(store.log)


def _last_written(store: MemoryStore) -> dict[str, bytes | None]:
    return dict(store.log)


def test_a_row_without_its_delta_is_the_row_as_written_less_the_delta() -> None:
    delta = Delta()
    delta.count("tracker_events_total|page_view|web|home", 2)
    delta.bucket("reach:all", 29_666_686, 1)
    state = CustomerState()
    body, cut = row_parts(state, 41, 7, delta, TOUCHPOINTS, 3, 5)
    whole, held = orjson.loads(body), orjson.loads(held_row(body, cut))
    assert "d" in whole
    assert held == {k: v for k, v in whole.items() if k != "d"}
    assert row_state(held, TOUCHPOINTS) == row_state(whole, TOUCHPOINTS)


def test_after_a_flush_memory_holds_customer_rows_without_deltas_and_the_changelog_whole() -> None:
    pipeline = _played()
    held = 0
    for partition, store in pipeline.stores.items():
        epoch = pipeline.processors[partition].epoch
        written = _last_written(store)
        for key, raw in store.rows.items():
            logged = written[key]
            assert logged is not None
            body, whole = orjson.loads(raw), orjson.loads(logged)
            if "/c/" not in key:
                assert raw == logged  # counter and ingest rows: as written
                continue
            assert "d" in whole  # the changelog: every customer row as written
            if whole["e"] < epoch and whole["s"] is not None:
                assert "d" not in body  # in a flushed epoch: held without it
                assert body == {k: v for k, v in whole.items() if k != "d"}
                held += 1
            else:
                assert raw == logged  # the current epoch's rows, erased rows: as written
    assert held > 100


def test_a_worker_restored_from_memory_counts_what_one_restored_from_the_changelog_does() -> None:
    pipeline = _played()
    cfg, now = pipeline.config, pipeline.now_ms
    live = samples_of(pipeline.processors, cfg, now)
    restored = {}
    for name, store_of in (("memory", _from_memory), ("changelog", _from_log)):
        processors = {}
        for p, store in pipeline.stores.items():
            processors[p] = cfg.processor(p, store_of(store), 4)
            processors[p].recover(now)
        assert repr(samples_of(processors, cfg, now)) == repr(live)  # repr: NaN equals itself
        for processor in processors.values():
            processor.tick(now + 400 * 86_400_000)  # every session closes, every row expires
            processor.flush()
        restored[name] = samples_of(processors, cfg, now + 400 * 86_400_000)
    assert repr(restored["memory"]) == repr(restored["changelog"])


def test_only_the_bytes_the_epoch_wrote_are_replaced() -> None:
    store, cache, writes = MemoryStore(), RowCache(), EpochWrites()
    body, cut = row_parts(CustomerState(), 1, 0, Delta(), TOUCHPOINTS)
    store.put("0/c/a", body)
    store.put("0/c/b", body)
    store.put("0/c/c", body)
    row = Row(CustomerState(), 0, Delta())
    for key in ("0/c/a", "0/c/b", "0/c/c"):
        writes.wrote(key, store.get(key), cut)
        cache.keep(key, store.get(key), row)
    store.put("0/c/b", body + b" ")  # written again outside this epoch's record of it
    store.delete("0/c/c")  # erased before the flush
    writes.settle(store, cache)
    assert store.rows["0/c/a"] == held_row(body, cut)
    assert store.rows["0/c/b"] == body + b" "
    assert "0/c/c" not in store.rows
    assert cache.take("0/c/a", store.rows["0/c/a"]) is row  # still lent after the swap
    assert len(writes) == 0


def test_a_restore_holds_the_rows_it_read_without_their_now_spent_deltas() -> None:
    pipeline = _played()
    for p, store in pipeline.stores.items():
        restored = MemoryStore.replay(store.log)
        processor = pipeline.config.processor(p, restored, 4)
        processor.recover(pipeline.now_ms)
        customers = [k for k in restored.rows if "/c/" in k]
        assert customers
        for key in customers:
            body = orjson.loads(restored.rows[key])
            if body["e"] < processor.epoch:  # not rewritten since (closing, pruning)
                assert "d" not in body
                whole = orjson.loads(dict(store.log)[key] or b"{}")
                assert body == {k: v for k, v in whole.items() if k != "d"}


def test_memory_kept_from_before_a_rebalance_plus_the_replayed_log_counts_the_same() -> None:
    # What Faust's memory store holds when a partition comes back to the same worker: the
    # rows it held (some without deltas), overwritten by the changelog written since.
    cfg = config()
    messages = generated_messages(seed=43, events=3_000, rate=20.0)
    pipeline = ReferencePipeline(cfg, 4)
    half = len(messages) // 2
    snapshot: dict[int, tuple[dict[str, bytes], int]] = {}
    for i, m in enumerate(messages):
        if i == half:
            snapshot = {p: (dict(s.rows), len(s.log)) for p, s in pipeline.stores.items()}
        pipeline.feed(m.key, m.value, m.timestamp_ms, m.timestamp_ms)
        if i % 150 == 0:
            pipeline.tick(m.timestamp_ms)
    now = pipeline.now_ms
    processors = {}
    for p, store in pipeline.stores.items():
        rows, logged = snapshot[p]
        kept = MemoryStore()
        kept.rows = dict(rows)
        for key, value in store.log[logged:]:
            if value is None:
                kept.rows.pop(key, None)
            else:
                kept.rows[key] = value
        processors[p] = cfg.processor(p, kept, 4)
        processors[p].recover(now)
    assert repr(samples_of(processors, cfg, now)) == repr(samples_of(pipeline.processors, cfg, now))
