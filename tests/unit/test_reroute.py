"""Re-routing (docs/operations.md#re-routing): a message on another partition than its
key's is sent to the key's partition through the input topic, and counted once."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from tests.unit.helpers import Harness, encode, ev, ms
from tracker.kafka.partitioner import partition_for
from tracker.stream.pipeline import Pipeline, Topology, WorkerState
from tracker.stream.reroute import REROUTED_HEADER, misplaced

PARTITIONS = 4


class Source:
    """The input topic: records each send and hands back an acknowledged future."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send(self, **record: Any) -> asyncio.Future[None]:
        self.sent.append(record)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future


def key_on(partition: int) -> bytes:
    """A customer id whose murmur2 partition is ``partition``."""
    return next(
        key
        for key in (f"cust-{n}".encode() for n in range(1000))
        if partition_for(key, PARTITIONS) == partition
    )


def message(partition: int, offset: int, key: bytes) -> Any:
    value = encode(ev("page_view", key.decode(), 0))
    headers = [("traceparent", b"00-abc")]
    return SimpleNamespace(
        partition=partition, offset=offset, key=key, value=value, timestamp=ms(1) / 1000,
        headers=headers,
    )  # fmt: skip


def pipeline(harnesses: dict[int, Harness], source: Source) -> Pipeline:
    worker = WorkerState(
        settings=SimpleNamespace(topic="t", dlq_topic="t-dlq", worker_id="w"),
        config=None,
        partitions=PARTITIONS,
    )  # type: ignore[arg-type]
    worker.processors.update({p: h.p for p, h in harnesses.items()})
    topology = Topology(
        source=source, dlq=None, activities=None, identity=None, table=None, account_table=None
    )
    return Pipeline(worker, topology)


def test_misplaced_names_the_keys_partition_only_when_it_differs() -> None:
    key = key_on(2)
    assert misplaced(key, 2, PARTITIONS) is None
    assert misplaced(key, 0, PARTITIONS) == 2
    assert misplaced(None, 0, PARTITIONS) is None, "no key: rejected where it is"
    assert misplaced(key, 0, 1) is None


async def test_a_misplaced_message_is_sent_on_and_counted_once() -> None:
    source = Source()
    here, there = Harness(partition=0), Harness(partition=2)
    pipe = pipeline({0: here, 2: there}, source)
    here.p.applied_offset = 4  # offsets 0-4 were applied: 5 is the next (stream.holes)
    key = key_on(2)
    original = message(0, 5, key)
    assert await pipe.handle(original) is True
    [copy] = source.sent
    assert (copy["partition"], copy["key"], copy["value"]) == (2, key, original.value)
    assert copy["timestamp"] == original.timestamp, "the broker time travels with it"
    assert copy["headers"] == [("traceparent", b"00-abc"), (REROUTED_HEADER, b"0:5")]
    assert pipe.worker.pending.futures == set() and pipe.worker.pending.failure is None
    # A redelivery after a crash: sent again (the copy's events are duplicates there),
    # never counted again.
    assert await pipe.handle(original) is True
    assert len(source.sent) == 2
    assert here.total("tracker_events_rerouted_total") == 1
    assert here.total("tracker_events_received_total") == 0, "received where it belongs"
    assert here.state(key.decode()) is None
    # The copy arrives on the key's partition and is applied there like any message.
    assert await pipe.handle(message(2, 0, key)) is True
    assert len(source.sent) == 2
    assert there.total("tracker_events_total") == 1
    assert there.total("tracker_events_rerouted_total") == 0
