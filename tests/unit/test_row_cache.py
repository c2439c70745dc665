"""Rows kept decoded between messages change nothing that is written or counted."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from tests.unit.helpers import config
from tracker.core.aggregates import Delta
from tracker.core.customer import CustomerState
from tracker.core.row_cache import RowCache
from tracker.core.rows import Row
from tracker.testing.reference import ReferencePipeline
from tracker.testing.streams import generated_messages
from tracker.testing.traffic import Message

KIOSK = "kiosk-lobby"


def _kiosk(count: int, start_ms: int) -> list[Message]:
    """One id sending all day: the large row the cache is for."""
    out = []
    for i in range(count):
        at = start_ms + i * 20_000
        event = {
            "schema_version": 1,
            "event_id": f"k{i}",
            "event_type": "interaction" if i % 4 == 0 else "page_view",
            "customer_id": KIOSK,
            "occurred_at": datetime.fromtimestamp(at / 1000, UTC).isoformat(),
            "channel": "store",
            "touchpoint": ("home", "search", "product", "cart")[i % 4],
            "consent": {"analytics": True, "marketing": False},
            **({"action": "search"} if i % 4 == 0 else {}),
        }
        out.append(Message(KIOSK.encode(), orjson.dumps(event), at, 1))
    return out


def _run(messages: list[Message], capacity: int) -> ReferencePipeline:
    pipeline = ReferencePipeline(config(), 4)
    for processor in pipeline.processors.values():
        processor.decoded = RowCache(capacity)
    for i, m in enumerate(messages):
        pipeline.feed(m.key, m.value, m.timestamp_ms, m.timestamp_ms)
        if i % 200 == 0:
            pipeline.tick(m.timestamp_ms)  # epochs end between a customer's messages too
    return pipeline


def test_every_write_and_count_is_the_same_with_and_without_kept_rows() -> None:
    messages = generated_messages(seed=23, events=6_000, rate=20.0)  # logins, merges, erasures
    messages = sorted(
        [*messages, *_kiosk(900, messages[0].timestamp_ms)], key=lambda m: m.timestamp_ms
    )
    plain, kept = _run(messages, 0), _run(messages, 64)
    assert any(len(p.decoded) for p in kept.processors.values())  # rows were kept and lent
    for partition, store in plain.stores.items():
        assert kept.stores[partition].log == store.log  # byte for byte, in the same order
    assert repr(kept.samples()) == repr(plain.samples())  # repr: NaN equals itself


def test_a_row_is_lent_only_while_the_store_holds_the_bytes_it_was_kept_with() -> None:
    cache = RowCache(2)
    row, stored = Row(CustomerState(), 3, Delta()), bytes(bytearray(b"row-3"))
    cache.keep("a", stored, row)
    assert cache.take("a", bytes(bytearray(b"row-3"))) is None  # equal, but a later write
    cache.keep("a", stored, row)
    assert cache.take("a", stored) is row
    assert cache.take("a", stored) is None  # lent: back only with the next write


def test_the_least_recently_written_rows_go_first() -> None:
    cache = RowCache(2)
    rows = {k: (k.encode(), Row(None, 0, Delta())) for k in "abc"}
    for key in "abc":
        cache.keep(key, *rows[key])
    assert len(cache) == 2
    assert cache.take("a", rows["a"][0]) is None
    assert cache.take("c", rows["c"][0]) is rows["c"][1]


def test_the_kiosks_row_is_decoded_once_and_then_lent_from_message_to_message() -> None:
    pipeline = _run([], 64)
    start = 1_796_000_000_000
    messages = _kiosk(3, start)
    partition = pipeline.feed(messages[0].key, messages[0].value, start, start)
    processor = pipeline.processors[partition]
    (key,) = list(processor.decoded._rows)
    first = processor.decoded._rows[key][1]
    for m in messages[1:]:
        pipeline.feed(m.key, m.value, m.timestamp_ms, m.timestamp_ms)
        assert processor.decoded._rows[key][1] is first  # the same object: never re-parsed
