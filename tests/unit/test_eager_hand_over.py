"""Fetched records reach their streams without four new tasks each (``hand_over_eagerly``)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import faust
import pytest
from faust.transport.consumer import Consumer

from tests.unit.helpers import config
from tracker.settings import Settings
from tracker.stream.app import build_worker_app
from tracker.stream.faust_patches import hand_over_eagerly
from tracker.stream.pipeline import WorkerState

T = TypeVar("T")


def test_faust_still_hands_records_over_through_wait_first() -> None:
    # What the patch replaces: when an upgrade changes this line, the patch must be redone.
    source = inspect.getsource(Consumer._drain_messages)
    assert "self.wait_first(\n" in source
    assert "callback(message), self.suspend_flow.wait()" in source


def _with_consumer(body: Callable[[Any, list[int]], Awaitable[T]]) -> T:
    """``body(consumer, faust_calls)`` on a patched, never started Faust consumer;
    ``faust_calls`` counts the calls that went to Faust's own ``wait_first``."""

    async def run() -> T:
        app = faust.App("test-hand-over", broker="kafka://127.0.0.1:1")
        consumer = app.consumer
        faust_wait_first = consumer.wait_first
        calls: list[int] = []

        async def counted(*waits: Any, timeout: Any = None) -> Any:
            calls.append(len(waits))
            return await faust_wait_first(*waits, timeout=timeout)

        consumer.wait_first = counted
        hand_over_eagerly(consumer)
        return await body(consumer, calls)

    return asyncio.run(run())


def test_a_hand_over_that_does_not_wait_is_done_in_the_call() -> None:
    handed: list[str] = []

    async def callback(message: str) -> str:
        handed.append(message)
        return message

    async def body(consumer: Any, calls: list[int]) -> Any:
        flow = consumer.suspend_flow.wait()
        result = await consumer.wait_first(callback("m1"), flow)
        return result, calls, inspect.getcoroutinestate(flow)

    (result, calls, flow_state) = _with_consumer(body)
    assert handed == ["m1"]
    assert calls == []  # Faust's wait_first, and its tasks, never ran
    assert list(result.results) == ["m1"]
    assert not result.stopped
    assert flow_state == inspect.CORO_CLOSED  # not left to be reported as never awaited


def test_a_hand_over_that_waits_finishes_through_faust_wait_first() -> None:
    steps: list[str] = []

    async def body(consumer: Any, calls: list[int]) -> Any:
        queue_space: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def callback() -> int:
            steps.append("started")
            room = await queue_space  # a full stream queue
            steps.append(f"put with room {room}")
            return room

        asyncio.get_running_loop().call_later(0.01, queue_space.set_result, 3)
        result = await consumer.wait_first(callback(), consumer.suspend_flow.wait())
        return result, calls

    result, calls = _with_consumer(body)
    assert steps == ["started", "put with room 3"]
    assert calls == [2]
    assert 3 in result.results


def test_a_failed_wait_reaches_the_hand_over_that_waited() -> None:
    async def body(consumer: Any, _calls: list[int]) -> Any:
        decoded: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def callback() -> str:
            try:
                await decoded
            except LookupError:
                return "recovered"
            return "not failed"

        asyncio.get_running_loop().call_later(0.01, decoded.set_exception, LookupError())
        return await consumer.wait_first(callback(), consumer.suspend_flow.wait())

    assert "recovered" in _with_consumer(body).results


def test_a_failure_after_waiting_reaches_the_drain_loop() -> None:
    async def body(consumer: Any, _calls: list[int]) -> None:
        async def callback() -> None:
            await asyncio.sleep(0)
            raise LookupError("decode failed")

        await consumer.wait_first(callback(), consumer.suspend_flow.wait())

    with pytest.raises(LookupError, match="decode failed"):
        _with_consumer(body)


def test_a_failure_before_waiting_reaches_the_drain_loop() -> None:
    async def body(consumer: Any, calls: list[int]) -> None:
        async def callback() -> None:
            raise LookupError("no channel")

        try:
            await consumer.wait_first(callback(), consumer.suspend_flow.wait())
        finally:
            assert calls == []

    with pytest.raises(LookupError, match="no channel"):
        _with_consumer(body)


def test_a_suspended_flow_still_interrupts_a_waiting_hand_over() -> None:
    """A rebalance suspends the flow: the waiting hand-over is cancelled, as in Faust."""
    seen: list[str] = []

    async def body(consumer: Any, _calls: list[int]) -> Any:
        async def callback() -> None:
            try:
                await asyncio.get_running_loop().create_future()  # a queue that stays full
            except asyncio.CancelledError:
                seen.append("cancelled")
                raise

        asyncio.get_running_loop().call_later(0.01, consumer.suspend_flow.set)
        result = await consumer.wait_first(callback(), consumer.suspend_flow.wait())
        await asyncio.sleep(0)  # the cancelled task runs its handler
        return result

    result = _with_consumer(body)
    assert seen == ["cancelled"]
    assert len(result.results) == 1  # only the flow's event won


@pytest.mark.parametrize("event", ["suspend_flow", "_stopped", "_crashed"])
def test_a_suspended_stopping_or_crashed_consumer_takes_faust_way(event: str) -> None:
    async def body(consumer: Any, calls: list[int]) -> list[int]:
        async def callback() -> None:
            return None

        getattr(consumer, event).set()
        await consumer.wait_first(callback(), consumer.suspend_flow.wait())
        return calls

    assert _with_consumer(body) == [2]


def test_the_worker_app_hands_over_eagerly(tmp_path: Path) -> None:
    async def build() -> str:
        settings = Settings(data_dir=tmp_path)
        app = build_worker_app(WorkerState(settings, config(), 8), "127.0.0.1:1")
        return str(app.consumer.wait_first.__qualname__)

    assert asyncio.run(build()) == "hand_over_eagerly.<locals>.hand_over"
