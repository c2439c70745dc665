"""The worker's signals: Faust's (mode's) handlers, but two of them made safe to send.

- SIGUSR2: mode answers with ``pdb.set_trace()`` on the event loop, a debugging aid. The
  loop then waits on stdin. Where stdin is a terminal or a pipe left open (a process
  manager's), the worker stops serving ``/metrics``, stops heartbeating, is thrown out
  of its consumer group, and stays so until someone types ``continue``. Here it is
  logged and ignored.
- SIGUSR1: mode prints every thread's stack *with its local variables*, which hold
  customers' events and ids as they are handled. Here the stacks are logged without
  them, and every asyncio task's with them.

SIGTERM and SIGINT keep mode's meaning: a clean stop (docs/operations.md#signals).
"""

from __future__ import annotations

import asyncio
import io
import logging
import sys
import threading
import traceback
from typing import Any

log = logging.getLogger(__name__)

IGNORED_SIGUSR2 = (
    "SIGUSR2 ignored: Faust's worker would stop here in a debugger and wait on stdin;"
    " send SIGUSR1 to log every thread's and task's stack"
)


def stacks(loop: asyncio.AbstractEventLoop) -> str:
    """Every thread's stack and every task of ``loop``'s, without their local variables."""
    out = io.StringIO()
    frames = sys._current_frames()
    for thread in threading.enumerate():
        frame = frames.get(thread.ident or 0)
        if frame is not None:
            out.write(f"THREAD {thread.name}\n{''.join(traceback.format_stack(frame))}")
    for task in asyncio.all_tasks(loop):
        out.write(f"TASK {task.get_name()} {task.get_coro()!r}\n")
        task.print_stack(file=out)
    return out.getvalue()


def worker_class() -> type[Any]:
    """faust.Worker with the two handlers above (faust is imported late, as in the rest
    of the worker's start, so ``tracker`` commands that do not run Faust start fast)."""
    import faust

    class TrackerWorker(faust.Worker):
        def _on_sigusr1(self) -> None:
            log.warning("SIGUSR1: every thread's and task's stack\n%s", stacks(self.loop))

        def _on_sigusr2(self) -> None:
            log.warning(IGNORED_SIGUSR2)

    return TrackerWorker
