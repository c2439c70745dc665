"""Writes the worker issued and Kafka has not acknowledged yet.

Faust commits input offsets after ``producer.flush()``, but its producer buffer's
flush gives up as soon as one send takes over 0.1 s and returns with writes still
queued (``faust.transport.producer.ProducerBuffer.flush_atmost``, faust-streaming
0.15.3). An offset could so be committed before the state row of its message was
written: after a crash or hand-over that message was neither restored nor
re-delivered. The worker's producer flush therefore also waits for the sends issued
before it started; a send that failed fails the flush, so the commit does not happen.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


class PendingWrites:
    """Changelog rows, dead letters and account activity sent but not yet acknowledged."""

    def __init__(self) -> None:
        self.futures: set[asyncio.Future[Any]] = set()
        self.failure: BaseException | None = None
        # Called before waiting; what each returns is called once the wait succeeded (what
        # was sent before it is then acknowledged: stream.identity.IdentitySender).
        self.checkpoints: list[Callable[[], Callable[[], None]]] = []

    def track(self, sent: Any) -> None:
        if isinstance(sent, asyncio.Future) and not sent.done():
            self.futures.add(sent)
            sent.add_done_callback(self._done)

    def _done(self, sent: asyncio.Future[Any]) -> None:
        self.futures.discard(sent)
        if not sent.cancelled() and sent.exception() is not None and self.failure is None:
            self.failure = sent.exception()

    async def wait(self, timeout: float = 60.0) -> None:
        """Wait for every send issued before this call.

        Faust picks the offsets to commit before it flushes, so the sends of the messages
        behind those offsets are all in this snapshot. Sends issued while waiting belong to
        later offsets; waiting for them too would, under steady traffic, never end.
        """
        acknowledged = [checkpoint() for checkpoint in self.checkpoints]
        issued = list(self.futures)
        if issued:
            _, unacknowledged = await asyncio.wait(issued, timeout=timeout)
            if unacknowledged:
                raise RuntimeError(
                    f"{len(unacknowledged)} writes not acknowledged in {timeout:.0f}s"
                )
        if self.failure is not None:
            failure, self.failure = self.failure, None
            raise RuntimeError(f"a state or dead-letter write failed: {failure!r}") from failure
        for done in acknowledged:
            done()
