"""A topic's events taken from its stream's queue a batch at a time, past Faust's iterator.

faust-streaming's stream iterator (0.15.3: ``Stream._c_aiter`` with the compiled
``StreamIterator``, which the worker runs, and its pure twin ``_py_aiter``) gives the
event loop a full pass before every event (``await sleep(0)``) and reaches each one
two async generators deep (``events()``, ``_c_aiter``) through the channel's coroutine.
``batched_events`` takes every event already queued, up to ``MAX_BATCH``, after one pass,
and hands them on one by one. Everything else the compiled iterator does for an event on
a ``noack()`` stream it does too, at the moment the event is handed on:

- an event of an older consumer generation, or one handed on while flow control is
  suspended (a rebalance in progress), is skipped: neither handed on nor acknowledged
  (the pure twin acknowledges it; an offset nobody handled is better left uncommitted,
  the partition's next owner reads it). The check is made per event, not per batch, so
  a rebalance that lands while a batch is being handled (the handler awaits the
  producer) stops the rest of the batch as it would stop Faust's iterator;
- the message is tracked as unacknowledged before it is handed on
  (``consumer.unacked``). A commit never passes it either way: Faust commits only a
  contiguous run of acknowledged offsets;
- the stream's sensors see the event come in (``on_message_in``,
  ``on_stream_event_in``); it goes out when the caller acknowledges it (``Stream.ack``),
  as before: on a ``noack()`` stream Faust's iterator never reports it out itself;
- the current event is set (``faust.current_event()``), and an error thrown into the
  channel is raised before the next event, but for ``StopAsyncIteration``, Faust's way
  of ending a stream, which ends the iteration.

Acknowledging stays with the caller (the stream is ``noack()``: a message of a paused
partition is left unacknowledged on purpose). Faust keeps group membership, fetching,
commits, changelogs and recovery. Events taken but not yet handed on when the iteration
ends (a stop, an error, a crashed agent) go back to the front of the queue, where
Faust's iterator would have left them: an agent Faust restarts on the same channel takes
them next, and a rebalance's clearing of the queues drops them as it drops the rest.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator
from typing import Any

# Events handed on between two passes of the event loop. The worker's other tasks (the
# flush timer, scrapes, the identity agent) wait at most one batch: 64 1-event messages
# are ~25 ms of a worker's time.
MAX_BATCH = 64


async def batched_events(stream: Any, max_batch: int = MAX_BATCH) -> AsyncGenerator[Any, None]:
    """The stream's events (``faust.Stream``, iterating a topic), as ``stream.events()``."""
    if stream._processors:
        raise ValueError("batched_events hands on events as they are: no stream processors")
    stream._finalized = True  # as Faust's iterator: no processor is added once iterating
    started = await stream.maybe_start()
    channel = stream.channel
    queue = channel.queue
    errors = queue._errors  # what channel.throw() raises in the iterating task
    taken: deque[Any] = deque()  # taken from the queue, not handed on yet
    try:
        while not stream.should_stop:
            await asyncio.sleep(0)  # one pass of the event loop per batch, not per event
            taken.append(queue.get_nowait() if not queue.empty() else await channel.__anext__())
            while len(taken) < max_batch and not queue.empty():
                taken.append(queue.get_nowait())
            while taken:
                if stream.should_stop:
                    return
                if errors:
                    raise errors.popleft()
                event = taken.popleft()
                if not _handing_on(stream, event):
                    continue
                stream.events_total += 1
                try:
                    yield event
                finally:
                    stream._set_current_event(None)
    except StopAsyncIteration:
        # How Faust ends its streams (a channel's queue throws it when the app stops). An
        # async generator must not let it out: Python would raise RuntimeError, and the
        # agent would crash in the middle of a clean shutdown.
        return
    finally:
        _put_back(queue, taken)
        stream._channel_stop_iteration(channel)
        if started:  # as Faust's iterator: a stream this iteration started, it stops
            await stream.stop()
            stream.service_reset()


def _handing_on(stream: Any, event: Any) -> bool:
    """Faust's steps for an event about to be handed on; False: stale, skip it."""
    app = stream.app
    message = event.message
    if not app.flow_control.is_active() or message.generation_id != app.consumer_generation_id:
        return False
    if message.topic in app.topics.acking_topics and not message.tracked:
        message.tracked = True
        app.consumer.unacked.add(message)
        stream._on_message_in(message.tp, message.offset, message)
    stream._on_stream_event_in(message.tp, message.offset, stream, event)
    stream._set_current_event(event)
    return True


def _put_back(queue: Any, events: deque[Any]) -> None:
    """Events not handed on, back to the front of the queue in their order."""
    if events:
        queue._queue.extendleft(reversed(events))  # asyncio.Queue's deque
        queue._wakeup_next(queue._getters)  # a replacement agent may wait on it already
        events.clear()
