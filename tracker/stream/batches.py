"""A topic's events taken from its stream's queue a batch at a time, past Faust's iterator.

faust-streaming's stream iterator (0.15.3: ``Stream._c_aiter`` and its pure twin
``_py_aiter``) gives the event loop a full pass before every event (``await sleep(0)``)
and reaches each one three async generators deep (``events()``, ``__aiter__``, the
Cython ``StreamIterator.next``). ``batched_events`` takes every event already queued, up
to ``MAX_BATCH``, after one pass, and hands them on one by one. Everything else the
iterator does for an event it does too, at the same moment, just before the event is
handed on:

- an event of an older consumer generation, or one taken while flow control is suspended
  (a rebalance in progress), is skipped: neither handed on nor acknowledged, as the
  Cython iterator the worker ran before does (its pure twin acknowledges it; an offset
  nobody handled is better left uncommitted, the partition's next owner reads it). The check is
  made per event, not per batch, so a rebalance that lands while a batch is being
  handled (the handler awaits the producer) stops the rest of the batch as it would
  stop Faust's iterator;
- the message is tracked as unacknowledged before it is handed on (``consumer.unacked``):
  a rebalance waits for it (``Consumer.wait_empty``), and a commit never passes an
  offset nobody acknowledged;
- the stream's sensors see the event come in and go out, so Faust's monitor and its
  "stream is not processing" diagnostics (``stream_inbound_time``) stay true;
- the current event is set (``faust.current_event()``), and errors thrown into the
  channel are raised, but for ``StopAsyncIteration``, Faust's way of ending a stream,
  which ends the iteration.

Acknowledging stays with the caller (the stream is ``noack()``: a message of a paused
partition is left unacknowledged on purpose). Faust keeps group membership, fetching,
commits, changelogs and recovery. Events taken but not handed on when the iterator is
closed are neither tracked nor acknowledged: a restart fetches them again, as when
Faust clears a stream's queue.
"""

from __future__ import annotations

import asyncio
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
    try:
        while not stream.should_stop:
            await asyncio.sleep(0)  # one pass of the event loop per batch, not per event
            batch = [queue.get_nowait() if not queue.empty() else await channel.__anext__()]
            while len(batch) < max_batch and not queue.empty():
                batch.append(queue.get_nowait())
            for event in batch:
                if stream.should_stop:
                    return  # the rest of the batch: neither tracked nor acknowledged
                state = _taken(stream, event)
                if state is _STALE:
                    continue
                stream.events_total += 1
                try:
                    yield event
                finally:
                    stream._set_current_event(None)
                    stream._on_stream_event_out(
                        event.message.tp, event.message.offset, stream, event, state
                    )
    except StopAsyncIteration:
        # How Faust ends its streams (a channel's queue throws it when the app stops). An
        # async generator must not let it out: Python would raise RuntimeError, and the
        # agent would crash in the middle of a clean shutdown.
        return
    finally:
        stream._channel_stop_iteration(channel)
        if started:  # as Faust's iterator: a stream this iteration started, it stops
            await stream.stop()
            stream.service_reset()


_STALE = object()


def _taken(stream: Any, event: Any) -> Any:
    """Faust's steps for an event about to be handed on: the sensors' state, or ``_STALE``."""
    app = stream.app
    message = event.message
    if not app.flow_control.is_active() or message.generation_id != app.consumer_generation_id:
        return _STALE
    if message.topic in app.topics.acking_topics and not message.tracked:
        message.tracked = True
        app.consumer.unacked.add(message)
        stream._on_message_in(message.tp, message.offset, message)
    state = stream._on_stream_event_in(message.tp, message.offset, stream, event)
    stream._set_current_event(event)
    return state
