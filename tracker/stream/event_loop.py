"""The worker's event loop: uvloop unless told otherwise.

A worker is one Python thread turning an asyncio loop (Faust's consumer has a thread
and loop of its own), and on single events much of its time is the loop's: callbacks,
futures and socket writes around each message and each record it produces. uvloop
implements the same loop on libuv in C; Faust, mode and aiokafka run on it unchanged,
and Faust's documentation recommends it. Measured, paired against the standard loop,
a worker spent ~7% less CPU per event on single events and on 100-event arrays, the
same on 10-event arrays; the collector, whose time is parsing, gained nothing and keeps
the standard loop (BENCHMARKS.md, "2026-12-05, afternoon: uvloop").
``TRACKER_EVENT_LOOP=asyncio`` keeps the standard library's loop in the worker too.
"""

from __future__ import annotations

import asyncio
from importlib.metadata import version


def use_event_loop(choice: str) -> str:
    """Make ``choice`` the loop every new event loop of this process is (threads' too).

    Call before anything creates a loop: Faust's app and mode's worker and threads ask
    the policy for theirs. Returns the loop's name for the start-up line.
    """
    if choice == "uvloop":  # or "asyncio": TRACKER_EVENT_LOOP, checked by the settings
        import uvloop

        # A policy, not uvloop.run(): mode creates its loops itself.
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        return f"uvloop {version('uvloop')}"
    asyncio.set_event_loop_policy(None)
    return "asyncio"
