"""The worker's event loop (tracker/stream/event_loop.py, TRACKER_EVENT_LOOP)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
import uvloop
from pydantic import ValidationError

from tracker.settings import Settings
from tracker.stream.event_loop import use_event_loop


@pytest.fixture
def restored_policy() -> Iterator[None]:
    yield
    asyncio.set_event_loop_policy(None)


def _new_loop_type() -> type:
    """The type of a loop made the way mode's worker and threads make theirs."""
    made: list[type] = []

    def make() -> None:
        loop = asyncio.new_event_loop()
        made.append(type(loop))
        loop.close()

    thread = threading.Thread(target=make)
    thread.start()
    thread.join()
    return made[0]


@pytest.mark.usefixtures("restored_policy")
def test_uvloop_by_default_in_every_thread() -> None:
    assert Settings().event_loop == "uvloop"
    assert use_event_loop(Settings().event_loop).startswith("uvloop ")
    assert _new_loop_type() is uvloop.Loop


@pytest.mark.usefixtures("restored_policy")
def test_asyncio_keeps_the_standard_library_loop() -> None:
    use_event_loop("uvloop")
    assert use_event_loop("asyncio") == "asyncio"
    assert _new_loop_type() is not uvloop.Loop
    assert issubclass(_new_loop_type(), asyncio.BaseEventLoop)


def test_an_unknown_loop_fails_at_start_naming_the_choices() -> None:
    with pytest.raises(ValidationError, match="'uvloop' or 'asyncio'"):
        Settings(event_loop="trio")  # type: ignore[arg-type]
