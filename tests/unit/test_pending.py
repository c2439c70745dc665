"""The producer flush before a commit waits for exactly the writes issued before it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tracker.stream.pending import PendingWrites


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_wait_returns_once_earlier_writes_are_acked_while_new_ones_keep_coming() -> None:
    async def scenario() -> bool:
        loop = asyncio.get_running_loop()
        pending = PendingWrites()
        earlier = loop.create_future()
        pending.track(earlier)
        stop = asyncio.Event()

        async def steady_traffic() -> None:
            # A new unacknowledged write always outstanding, as under steady load.
            while not stop.is_set():
                later = loop.create_future()
                pending.track(later)
                await asyncio.sleep(0.01)
                later.set_result(None)

        traffic = asyncio.create_task(steady_traffic())
        loop.call_later(0.05, earlier.set_result, None)
        await asyncio.wait_for(pending.wait(timeout=5), timeout=2)
        stop.set()
        await traffic
        return earlier.done()

    assert _run(scenario())


def test_wait_does_not_return_before_the_earlier_writes_are_acked() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        pending = PendingWrites()
        write = loop.create_future()
        pending.track(write)
        waiting = asyncio.create_task(pending.wait(timeout=5))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        write.set_result(None)
        await asyncio.wait_for(waiting, timeout=1)
        assert pending.futures == set()

    _run(scenario())


def test_a_failed_write_fails_the_flush_once() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        pending = PendingWrites()
        write = loop.create_future()
        pending.track(write)
        write.set_exception(OSError("broker gone"))
        await asyncio.sleep(0)
        with pytest.raises(RuntimeError, match="write failed: OSError"):
            await pending.wait()
        await pending.wait()  # reported once; the commit after it may go ahead

    _run(scenario())


def test_writes_never_acknowledged_fail_the_flush_after_the_timeout() -> None:
    async def scenario() -> None:
        pending = PendingWrites()
        pending.track(asyncio.get_running_loop().create_future())
        with pytest.raises(RuntimeError, match="1 writes not acknowledged"):
            await pending.wait(timeout=0.05)

    _run(scenario())


def test_results_that_are_not_futures_are_not_tracked() -> None:
    pending = PendingWrites()
    pending.track(None)
    assert pending.futures == set()
