"""The worker's signals: Faust's (mode's) handlers, but two of them made safe to send.

- SIGUSR2: mode answers with ``pdb.set_trace()`` on the event loop, a debugging aid. The
  loop then waits on stdin. Where stdin is a terminal or a pipe left open (a process
  manager's), the worker stops processing and serving ``/metrics``, while its consumer
  thread keeps heartbeating: its partitions stay its own, and stand still, until
  someone types ``continue`` (or Faust's max poll interval passes). The freeze guard
  (``freeze.py``) does not see it, since its own thread still ticks. Here SIGUSR2 is
  logged and ignored.
- SIGUSR1: mode prints every thread's stack *with its local variables*, which hold
  customers' events and ids as they are handled. Here the stacks are logged without
  them, with every asyncio task's, followed down its awaits.

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

from mode.utils.tracebacks import format_task_stack

log = logging.getLogger(__name__)

IGNORED_SIGUSR2 = (
    "SIGUSR2 ignored: Faust's worker would stop here in a debugger and wait on stdin;"
    " send SIGUSR1 to log every thread's and task's stack"
)


def stacks(loop: asyncio.AbstractEventLoop) -> str:
    """Every thread's stack, and every task's of ``loop`` and of the threads' own loops
    (aiokafka's consumer runs in one), down the chain of awaits, without local variables.
    """
    out = io.StringIO()
    threads = threading.enumerate()
    names = {thread.ident: thread.name for thread in threads}
    for ident, frame in sys._current_frames().items():
        out.write(f"THREAD {names.get(ident, ident)}\n{''.join(traceback.format_stack(frame))}")
    loops = [loop] + [
        thread_loop
        for thread in threads
        if (thread_loop := getattr(getattr(thread, "service", None), "thread_loop", None))
        and thread_loop is not loop
    ]
    for each in loops:
        for task in asyncio.all_tasks(each):
            out.write(f"TASK {task.get_name()} {task.get_coro()!r}\n")
            try:  # another thread's task moves on while it is read: say so, go on
                out.write(format_task_stack(task, capture_locals=False))
            except Exception as exc:
                out.write(f"  (stack not read: {exc!r})\n")
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
