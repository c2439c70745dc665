"""The worker's agents take queued events a batch at a time, and keep what Faust's iterator did.

On a real Faust app and topic stream, never started against a broker: events are put in
the stream's queue as Faust's consumer puts them.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import faust
import pytest
from faust.sensors import Sensor
from faust.streams import Stream
from faust.types import TP, Message
from faust.types.tuples import ConsumerMessage

from tracker.stream import app as worker_app
from tracker.stream.batches import batched_events

T = TypeVar("T")
TOPIC = "touchpoints"


class Seen(Sensor):
    """What Faust's sensors hear of the stream."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, int]] = []

    def on_message_in(self, tp: TP, offset: int, message: Message) -> None:
        self.calls.append(("message_in", offset))

    def on_stream_event_in(self, tp: TP, offset: int, stream: Any, event: Any) -> dict[str, Any]:
        self.calls.append(("event_in", offset))
        return {"offset": offset}

    def on_stream_event_out(
        self, tp: TP, offset: int, stream: Any, event: Any, state: Any = None
    ) -> None:
        self.calls.append(("event_out", offset))


class Fixture:
    def __init__(self) -> None:
        self.app = faust.App("test-batched-events", broker="kafka://127.0.0.1:1")
        topic = self.app.topic(TOPIC, key_serializer="raw", value_serializer="raw")
        stream: Any = self.app.stream(topic)  # Faust types lack noack()
        self.stream: Any = stream.noack()
        self.app.topics.acking_topics.add(TOPIC)  # as the worker's input topic
        self.app.flow_control.resume()  # as after an assignment
        self.sensor = Seen()
        self.app.sensors.add(self.sensor)

    def event(self, offset: int, generation: int | None = None) -> Any:
        app = self.app
        gen = app.consumer_generation_id if generation is None else generation
        message = ConsumerMessage(
            TOPIC, 0, offset, 0.0, 0, {}, b"k", b"v", None, tp=TP(TOPIC, 0), generation_id=gen
        )
        message.refcount = 1  # as the conductor delivers it to one stream
        return faust.Event(app, b"k", b"v", {}, message)

    def queue(self, *events: Any) -> None:
        for event in events:
            self.stream.channel.queue.put_nowait(event)


def _run(body: Callable[[Fixture], Awaitable[T]]) -> T:
    async def run() -> T:
        return await body(Fixture())

    return asyncio.run(run())


async def _take(f: Fixture, count: int, max_batch: int = 64) -> list[int]:
    """The offsets of the next ``count`` events; fails, not hangs, if they never come."""
    offsets: list[int] = []

    async def take() -> None:
        async for event in batched_events(f.stream, max_batch):
            offsets.append(event.message.offset)
            if len(offsets) == count:
                break

    await asyncio.wait_for(take(), timeout=5)
    return offsets


def test_every_queued_event_comes_out_once_in_order_across_batches() -> None:
    async def body(f: Fixture) -> list[int]:
        f.queue(*(f.event(offset) for offset in range(7)))
        return await _take(f, 7, max_batch=3)

    assert _run(body) == list(range(7))


def test_the_event_loop_gets_one_pass_per_batch_not_per_event() -> None:
    async def body(f: Fixture) -> tuple[int, int]:
        passes = 0

        async def count_passes() -> None:
            nonlocal passes
            while True:
                await asyncio.sleep(0)
                passes += 1

        counter = asyncio.create_task(count_passes())
        await asyncio.sleep(0)
        f.queue(*(f.event(offset) for offset in range(12)))
        start = passes
        taken = 0
        async for _ in batched_events(f.stream, max_batch=4):  # no task of its own
            taken += 1
            if taken == 12:
                break
        batched = passes - start
        f.queue(*(f.event(offset) for offset in range(12, 24)))
        start = passes
        async for _ in f.app.stream(f.stream.channel).events():  # Faust's own iterator
            if passes - start >= 12:
                break
        faust_passes = passes - start
        counter.cancel()
        return batched, faust_passes

    batched, faust_passes = _run(body)
    # 12 events, 4 to a batch: a pass before each batch, so a long queue never starves
    # the worker's other tasks (the flush timer, scrapes, Faust's drain loop).
    assert 2 <= batched <= 3
    assert faust_passes >= 12  # the baseline this beats: a pass before every event


def test_each_message_is_tracked_unacknowledged_before_it_is_handed_on() -> None:
    async def body(f: Fixture) -> list[bool]:
        f.queue(f.event(0), f.event(1))
        tracked: list[bool] = []
        async for event in batched_events(f.stream):
            message = event.message
            tracked.append(message.tracked and message in f.app.consumer.unacked)
            if len(tracked) == 2:
                break
        return tracked

    assert _run(body) == [True, True]


def test_the_handler_acknowledges_and_the_consumer_sees_the_offsets_acked() -> None:
    async def body(f: Fixture) -> tuple[list[int], int]:
        events = [f.event(0), f.event(1), f.event(2)]  # held: Faust tracks them weakly
        f.queue(*events)
        async for event in batched_events(f.stream):
            if event.message.offset != 1:  # a paused partition's message stays unacked
                await f.stream.ack(event)
            if event.message.offset == 2:
                break
        consumer: Any = f.app.consumer
        return sorted(consumer._acked[TP(TOPIC, 0)]), len(consumer.unacked)

    acked, unacked = _run(body)
    assert acked == [0, 2]
    assert unacked == 1  # offset 1: never committed past


def test_events_of_an_older_generation_are_skipped_unhandled_and_unacked() -> None:
    async def body(f: Fixture) -> tuple[list[int], list[Any]]:
        stale = f.event(1, generation=f.app.consumer_generation_id - 1)
        f.queue(f.event(0), stale, f.event(2))
        offsets = await _take(f, 2)
        return offsets, [stale.message.tracked, stale.message.acked]

    offsets, stale_state = _run(body)
    assert offsets == [0, 2]
    assert stale_state == [False, False]


def test_a_rebalance_during_a_batch_stops_the_rest_of_it() -> None:
    async def body(f: Fixture) -> list[int]:
        f.queue(*(f.event(offset) for offset in range(5)))
        handed: list[int] = []
        async for event in batched_events(f.stream, max_batch=5):
            handed.append(event.message.offset)
            if event.message.offset == 1:
                f.app.flow_control.suspend()  # revocation begins mid-batch
                f.app.consumer_generation_id += 1
                f.app.flow_control.resume()  # assigned again: 2-4 are of the old generation
                f.queue(f.event(6))  # the new generation's first
            if event.message.offset == 6:
                break
        return handed

    assert _run(body) == [0, 1, 6]


def test_events_taken_while_the_flow_is_suspended_are_skipped() -> None:
    async def body(f: Fixture) -> list[int]:
        f.queue(f.event(0), f.event(1), f.event(2))
        handed: list[int] = []

        async def resume_later() -> None:
            await asyncio.sleep(0.01)
            f.app.flow_control.resume()  # clears the stream's queue, as after a rebalance
            f.queue(f.event(3))

        later = None
        async for event in batched_events(f.stream):
            handed.append(event.message.offset)
            if event.message.offset == 0:
                f.app.flow_control.suspend()  # 1 and 2 are in this batch already
                later = asyncio.create_task(resume_later())
            if event.message.offset == 3:
                break
        assert later is not None
        await later
        return handed

    assert _run(body) == [0, 3]


def test_sensors_hear_each_event_come_in_and_go_out_when_acknowledged() -> None:
    async def body(f: Fixture) -> tuple[list[tuple[str, int]], list[bool], Any]:
        f.queue(f.event(0), f.event(1))
        current: list[bool] = []
        events = batched_events(f.stream)
        async for event in events:
            current.append(faust.current_event() is event and f.stream.current_event is event)
            if event.message.offset == 0:
                await f.stream.ack(event)  # out when acknowledged, as with Faust's iterator
            if event.message.offset == 1:
                break
        await events.aclose()  # as when the agent stops: the last event is let go
        return f.sensor.calls, current, f.stream.current_event

    calls, current, after = _run(body)
    assert calls == [
        ("message_in", 0),
        ("event_in", 0),
        ("event_out", 0),
        ("message_in", 1),
        ("event_in", 1),
    ]
    assert current == [True, True]
    assert after is None


def test_events_not_handed_on_go_back_to_the_queue_in_order() -> None:
    # An agent that crashes or stops mid-batch: Faust's iterator would have left the rest in
    # the queue, where an agent restarted on the same channel takes them.
    async def body(f: Fixture) -> tuple[list[int], list[int]]:
        f.queue(*(f.event(offset) for offset in range(5)))
        first: list[int] = []
        events = batched_events(f.stream)
        async for event in events:
            first.append(event.message.offset)
            if event.message.offset == 1:
                break
        await events.aclose()
        return first, await _take(f, 3)

    assert _run(body) == ([0, 1], [2, 3, 4])


def test_an_agent_already_waiting_on_the_queue_gets_the_events_put_back() -> None:
    async def body(f: Fixture) -> tuple[list[int], list[int]]:
        f.queue(*(f.event(offset) for offset in range(3)))
        first: list[int] = []
        events = batched_events(f.stream)
        async for event in events:
            first.append(event.message.offset)
            break  # all three are taken; the queue is empty
        waiting = asyncio.create_task(_take(f, 2))
        await asyncio.sleep(0.01)  # it waits on the empty queue
        await events.aclose()
        return first, await waiting

    assert _run(body) == ([0], [1, 2])


def test_an_error_thrown_mid_batch_is_raised_before_the_next_event() -> None:
    async def body(f: Fixture) -> tuple[list[int], str, list[int]]:
        f.queue(*(f.event(offset) for offset in range(3)))
        handed: list[int] = []
        try:
            async for event in batched_events(f.stream):
                handed.append(event.message.offset)
                await f.stream.channel.throw(KeyError("thrown"))
        except KeyError as exc:
            raised = str(exc)
        return handed, raised, await _take(f, 2)

    assert _run(body) == ([0], "'thrown'", [1, 2])


def test_a_stopping_stream_hands_on_nothing_more() -> None:
    async def body(f: Fixture) -> tuple[list[int], bool]:
        f.queue(*(f.event(offset) for offset in range(4)))
        handed: list[int] = []
        async for event in batched_events(f.stream):
            handed.append(event.message.offset)
            if event.message.offset == 1:
                await f.stream.stop()  # the agent stops (shutdown, or a crash elsewhere)
        return handed, any(m.tracked for m in f.app.consumer.unacked if m.offset > 1)

    handed, later_tracked = _run(body)
    assert handed == [0, 1]  # the rest of the batch is left for the next owner
    assert not later_tracked


def test_an_error_thrown_into_the_channel_is_raised() -> None:
    async def body(f: Fixture) -> None:
        await f.stream.channel.throw(KeyError("thrown"))
        async for _ in batched_events(f.stream):
            pass

    with pytest.raises(KeyError, match="thrown"):
        _run(body)


def test_faust_ending_the_channel_ends_the_iteration_cleanly() -> None:
    # Faust throws StopAsyncIteration into its channels' queues when the app stops. Let out
    # of an async generator it became a RuntimeError that crashed the agents mid-shutdown.
    async def body(f: Fixture) -> list[int]:
        f.queue(f.event(0))
        handed: list[int] = []

        async def stop_later() -> None:
            await asyncio.sleep(0.01)
            await f.stream.channel.throw(StopAsyncIteration())

        stopping = asyncio.create_task(stop_later())
        async for event in batched_events(f.stream):
            handed.append(event.message.offset)
        await stopping
        return handed

    assert _run(body) == [0]


def test_it_waits_for_events_when_the_queue_is_empty() -> None:
    async def body(f: Fixture) -> list[int]:
        async def later() -> None:
            await asyncio.sleep(0.01)
            f.queue(f.event(0))

        task = asyncio.create_task(later())
        offsets = await _take(f, 1)
        await task
        return offsets

    assert _run(body) == [0]


def test_a_stream_with_processors_is_refused() -> None:
    async def body(f: Fixture) -> None:
        f.stream.add_processor(lambda value: value)
        async for _ in batched_events(f.stream):
            pass

    with pytest.raises(ValueError, match="processors"):
        _run(body)


def test_every_agent_of_the_worker_reads_through_it() -> None:
    source = inspect.getsource(worker_app.register_agents)
    assert source.count("batched_events(manual)") == 3
    assert ".events()" not in source


def test_faust_iterators_still_do_what_this_mirrors() -> None:
    # The compiled iterator the agents ran (Stream._c_aiter with the Cython StreamIterator),
    # and its pure twin: when an upgrade changes these steps, batched_events must follow.
    compiled = inspect.getsource(Stream._c_aiter)
    assert "it.after(event, do_ack or value is skipped_value, sensor_state)" in compiled
    pyx = (Path(faust.__file__).parent / "_cython" / "streams.pyx").read_text()
    assert "await sleep(0)" in pyx
    assert "if do_ack and event is not None:" in pyx  # a noack stream: no ack, no event_out
    assert "or message.generation_id != self.app.consumer_generation_id" in pyx
    assert "not self.app.flow_control.is_active()" in pyx
    assert "self.add_unacked(message)" in pyx
    pure = inspect.getsource(Stream._py_aiter)
    assert "await sleep(0)" in pure
    assert "message.generation_id != self.app.consumer_generation_id" in pure
    assert "add_unacked(message)" in pure
