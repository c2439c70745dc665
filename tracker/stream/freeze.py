"""Noticing that the whole worker process stood still, and restarting it in place."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable

from tracker.settings import Settings

HEARTBEAT_INTERVAL_S = 1.0


class FreezeGuard:
    """Restarts the worker in place when the whole process stood still too long.

    A worker paused (SIGSTOP, a frozen VM or container) for about the consumer-group
    session timeout has been expired by the coordinator, and its partitions are
    already another worker's. Resumed, it would still act as their owner for a
    moment: Faust's buffered changelog writes go out, timers flush, the agent
    handles fetched messages, all landing after the new owner's rows, where the
    next recovery restores them (stale state: events lost or counted twice).
    Kafka fences such zombies only with transactions, and Faust's exactly-once
    mode is not reliable (faust-streaming/faust#323, robinhood/faust#658). So the
    freeze is noticed before the main thread runs any other Python code -- in a
    SIGCONT handler, or by a watchdog thread whose own ticks stopped -- and the
    process replaces itself (exec, like kill -9 and restart: nothing buffered is
    sent) with a fresh worker that rejoins the group and restores from the
    changelogs, which is proven exact.
    """

    def __init__(
        self,
        limit_s: float,
        on_freeze: Callable[[float], None] | None = None,
        tick_s: float = 0.2,
    ) -> None:
        self.limit_s = limit_s
        self.tick_s = tick_s
        self.on_freeze = on_freeze or restart_in_place
        self.last = time.monotonic()
        self.frozen_s = 0.0

    @classmethod
    def for_settings(cls, settings: Settings) -> FreezeGuard:
        # A freeze shorter than this cannot have cost the group membership: the last
        # heartbeat before it is at most one interval old (margin for scheduling).
        return cls(max(1.0, settings.broker_session_timeout - HEARTBEAT_INTERVAL_S - 0.5))

    def start(self) -> None:
        """From the main thread: install the SIGCONT handler, start the watchdog."""
        self.last = time.monotonic()
        signal.signal(signal.SIGCONT, self._on_sigcont)
        threading.Thread(target=self._watch, name="freeze-guard", daemon=True).start()

    def _watch(self) -> None:
        while True:
            time.sleep(self.tick_s)
            now = time.monotonic()
            if now - self.last >= self.limit_s:
                self.frozen_s = now - self.last  # before `last` moves: the handler sees one
                self.on_freeze(self.frozen_s)
            self.last = now

    def _on_sigcont(self, _signum: int, _frame: object) -> None:
        frozen = max(self.frozen_s, time.monotonic() - self.last)
        if frozen >= self.limit_s:
            self.on_freeze(frozen)


def restart_in_place(frozen_s: float) -> None:
    """Replace this process with a fresh worker (same PID, arguments and environment)."""
    message = (
        f"tracker worker: the process stood still for {frozen_s:.1f}s, long enough to lose "
        "its partitions to another worker; restarting in place before it writes stale state\n"
    )
    os.write(2, message.encode())
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])
