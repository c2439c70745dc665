"""The worker's consumer lag: the input topic's and the identity topic's, per partition."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from faust.types import TP

from tracker.stream.web import ConsumerLag

INPUT, IDENTITY = "touchpoints", "w1-identity"


class Consumer:
    """Faust's consumer as ConsumerLag reads it: the last fetch's high-waters, and the
    broker's end offsets when asked."""

    def __init__(self, fetched: dict[TP, int], broker: dict[TP, int]) -> None:
        self.fetched, self.broker = fetched, broker
        self.asked: list[TP] = []

    def highwater(self, tp: TP) -> int:
        return self.fetched[tp]  # KeyError: not fetched yet, as Faust's raises

    async def highwaters(self, *tps: TP) -> dict[TP, int]:
        self.asked += tps
        return {tp: self.broker[tp] for tp in tps}


def lag_of(consumer: Consumer, applied: dict[int, tuple[int, int]]) -> ConsumerLag:
    processors = {
        p: SimpleNamespace(applied_offset=offset, identity=SimpleNamespace(applied=identity))
        for p, (offset, identity) in applied.items()
    }
    worker: Any = SimpleNamespace(
        settings=SimpleNamespace(topic=INPUT, worker_id="w1"), processors=processors
    )
    return ConsumerLag(SimpleNamespace(consumer=consumer), worker)  # type: ignore[arg-type]


def test_each_topic_lags_by_its_own_offsets() -> None:
    consumer = Consumer({TP(INPUT, 0): 100, TP(IDENTITY, 0): 10}, {})
    lag = lag_of(consumer, {0: (89, 4)})
    assert lag(0) == 10  # offsets 90..99 not yet processed
    assert lag.identity(0) == 5  # records 5..9 not yet applied
    assert lag(1) is None and lag.identity(1) is None  # not this worker's


def test_the_broker_end_offsets_count_while_a_paused_partition_is_not_fetched() -> None:
    # Faust paused the partition (a full buffer): its last fetch is old, the broker is not.
    consumer = Consumer(
        {TP(INPUT, 0): 100},
        {TP(INPUT, 0): 150, TP(IDENTITY, 0): 40, TP(INPUT, 2): 0, TP(IDENTITY, 2): 0},
    )
    lag = lag_of(consumer, {0: (99, 9), 2: (-1, -1)})
    assert lag.identity(0) is None  # neither fetched nor asked yet: no figure, not 0
    asyncio.run(lag.refresh())
    assert sorted(consumer.asked) == sorted(
        [TP(INPUT, 0), TP(INPUT, 2), TP(IDENTITY, 0), TP(IDENTITY, 2)]
    )
    assert (lag(0), lag.identity(0)) == (50, 30)
    assert (lag(2), lag.identity(2)) == (0, 0)  # empty topics: nothing behind
    assert lag.broker() == "connected"
