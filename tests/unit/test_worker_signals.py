"""The worker's SIGUSR1 and SIGUSR2 (tracker.stream.signals): safe to send in production."""

from __future__ import annotations

import asyncio
import inspect
import logging
import pdb

import mode
import pytest

from tracker.stream.signals import IGNORED_SIGUSR2, stacks, worker_class


def test_mode_still_installs_the_handlers_that_are_replaced() -> None:
    """Fails when a Faust (mode) upgrade moves them: the overrides would then do nothing."""
    install = inspect.getsource(mode.Worker._install_signal_handlers_unix)
    assert "signal.SIGUSR1, self._on_sigusr1" in install
    assert "signal.SIGUSR2, self._on_sigusr2" in install
    assert issubclass(worker_class(), mode.Worker)


def test_sigusr2_is_logged_not_debugged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def debugger(*args: object) -> None:
        raise AssertionError("entered pdb")

    monkeypatch.setattr(pdb, "set_trace", debugger)
    with caplog.at_level(logging.WARNING):
        worker_class()._on_sigusr2(None)
    assert caplog.messages == [IGNORED_SIGUSR2]


async def test_sigusr1_stacks_follow_tasks_down_their_awaits_but_leave_out_variables(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = asyncio.Event()

    async def waiting_deep_inside() -> None:
        anonymous_id = "person-4711@example.com"  # a local, as a handler's event is
        await release.wait()
        assert anonymous_id

    async def handler() -> None:
        await waiting_deep_inside()

    task = asyncio.create_task(handler(), name="handler-under-test")
    await asyncio.sleep(0)

    class Worker(worker_class()):  # type: ignore[misc]  # a Faust class: untyped
        def __init__(self) -> None:  # a mode worker would install handlers, start logging
            self.loop = asyncio.get_running_loop()

    try:
        with caplog.at_level(logging.WARNING):
            Worker()._on_sigusr1()
        text = stacks(asyncio.get_running_loop())
    finally:
        release.set()
        await task
    assert caplog.messages[0].startswith("SIGUSR1: every thread's and task's stack\n")
    assert "THREAD MainThread" in text and "THREAD MainThread" in caplog.messages[0]
    assert "TASK handler-under-test" in text
    assert "in handler" in text and "in waiting_deep_inside" in text
    assert "person-4711" not in text
