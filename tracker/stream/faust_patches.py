"""The five places where the worker changes how Faust talks to Kafka and hands records on.

Each is a small, named patch of faust-streaming 0.15.3 internals, each with a unit
test that fails when a Faust upgrade moves what it patches.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Coroutine, Generator, Iterable, Mapping, Sequence
from typing import Any

from faust.transport.drivers import aiokafka as aiokafka_driver
from mode.services import WaitResults

from tracker.stream.holes import AfterSeek
from tracker.stream.pending import PendingWrites

log = logging.getLogger("tracker.stream.worker")


def commit_only_what_is_written(producer: Any, pending: PendingWrites) -> None:
    """Faust flushes the producer before it commits offsets: make that flush complete."""
    flush = producer.flush

    async def flush_and_wait() -> None:
        await flush()
        queued = getattr(getattr(producer, "buffer", None), "size", 0)
        if queued or len(pending.futures) > 1000:
            log.info(
                "producer flush returned with %d writes queued, %d unacknowledged: waiting",
                queued,
                len(pending.futures),
            )
        await pending.wait()

    producer.flush = flush_and_wait


def shape_fetches(max_wait: float, min_bytes: int) -> None:
    """Consumer fetches wait at the broker for ``min_bytes`` or ``max_wait`` seconds.

    faust-streaming 0.15.3 builds its aiokafka consumer with ``fetch_max_wait_ms=1500``,
    ``fetch_min_bytes=1`` and no setting for either.

    The wait: aiokafka keeps one fetch in flight per broker, and a fetch leaves out
    partitions that still have records buffered; so once those are consumed, their next
    records wait until the in-flight fetch for the other, quiet partitions (changelogs,
    the activity topic) has waited its 1.5 s out. With a worker behind its input, that put
    up to ~1.5 s into every event's way to ``/metrics`` (BENCHMARKS.md), so the tracker's
    default is 0.1 s.
    (It was opt-in while a restarted worker sometimes stopped consuming with it; that came
    with Faust's dropped messages around rebalances, which ``stream.rewinder`` now fetches
    again, and it seeks any backlog that stands still: RELIABILITY.md, bug 8.)

    The bytes: with one byte, the broker answers a fetch as soon as one record arrives, so
    a live stream is fetched a few records at a time and each fetch costs the worker its
    request, response and hand-over. 64 KiB lets records gather for up to the wait: at half
    the drain rate the worker spent 15-32% less CPU, for up to one wait more per hop through
    Kafka (p99 +0.05-0.25 s; BENCHMARKS.md, 2026-12-05). A backlog fills fetches either way.
    """
    thread = aiokafka_driver.AIOKafkaConsumerThread
    create = getattr(thread, "_tracker_create_worker_consumer", None)
    if create is None:
        create = thread._create_worker_consumer
        thread._tracker_create_worker_consumer = create  # type: ignore[attr-defined]

    def create_worker_consumer(self: Any, transport: Any) -> Any:
        consumer = create(self, transport)
        # Both read when the consumer starts its fetcher.
        consumer._fetch_max_wait_ms = round(max_wait * 1000)
        consumer._fetch_min_bytes = min_bytes
        return consumer

    thread._create_worker_consumer = create_worker_consumer  # type: ignore[method-assign]


class UnfilteredReadOffsets(defaultdict[Any, Any]):
    """Faust's per-partition read offsets, except that the named topics are never filtered.

    ``Consumer._drain_messages`` drops fetched records below the partition's read
    offset, and advances that offset for records a stream then discards around a
    rebalance; a seek back to them would fetch them only to drop them again
    (``tracker.stream.holes``). For the topics the tracker applies by offset (input,
    identity, account activity) nothing is dropped here: a record applied before is
    skipped by its offset, a missing one is sought back. Reading None also keeps
    Faust from counting a hole in these topics as acknowledged (``Consumer._add_gap``).
    Changelogs keep Faust's filter: recovery relies on it.
    """

    def __init__(self, topics: Iterable[str], offsets: Any = ()) -> None:
        super().__init__(lambda: None, offsets)
        self.topics = frozenset(topics)

    def __getitem__(self, tp: Any) -> Any:
        if tp.topic in self.topics:
            return None
        return super().__getitem__(tp)


def deliver_refetched(consumer: Any, topics: Iterable[str]) -> None:
    """Let every record fetched from ``topics`` reach the stream (``UnfilteredReadOffsets``)."""
    consumer._read_offset = UnfilteredReadOffsets(topics, consumer._read_offset)


class SeekTrail:
    """Per topic partition: the offset its latest seek went to, and the first record
    fetched from there (``holes.AfterSeek``), which tells a hole Kafka really has from a
    record Faust fetched before the seek and hands over after it.

    Written in Faust's consumer thread, where the worker's and Faust's seeks run
    (``seek_wait``, ``seek_to_committed``) and where aiokafka returns fetched records;
    read by the agents in the main thread. aiokafka drops what it buffered for a
    partition when it is sought, and any fetch made from its old position, so the first
    records it returns after a seek come from the sought offset. Two ways round a seek
    void an entry (sought -1, which the guard never takes for its refetch): a seek from
    another thread, unordered against the fetches, and a new assignment since the seek,
    whose position aiokafka set to the committed offset without one. aiokafka's own
    reset after "offset out of range" keeps the entry: with the worker's "earliest"
    reset (``stream.options``) it goes to the log's first record, so the gap is real.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()  # each entry is replaced whole, read whole
        # AfterSeek, and aiokafka's state object of the partition's assignment at the seek
        self._entries: dict[tuple[str, int], tuple[AfterSeek, object]] = {}
        self.thread: int | None = None  # the consumer thread's ident, once it fetched

    def sought(self, topic: str, partition: int, offset: int, state: object = None) -> None:
        with self._lock:
            self._entries[(topic, partition)] = (AfterSeek(offset, None), state)

    def fetched(
        self,
        records: Mapping[Any, Sequence[Any]],
        state_of: Callable[[Any], object],
        now_s: float,
    ) -> None:
        """One fetch's records, by topic partition, each list in offset order, returned at
        ``now_s`` (``time.monotonic``, the clock the agents read)."""
        with self._lock:
            for tp, batch in records.items():
                at = (tp.topic, tp.partition)
                entry = self._entries.get(at)
                if entry is None or entry[0].first is not None or not batch:
                    continue
                after, state = entry
                sought = after.sought if state_of(tp) is state else -1
                self._entries[at] = (AfterSeek(sought, batch[0].offset, now_s), state)

    def after_seek(self, topic: str, partition: int) -> AfterSeek | None:
        with self._lock:
            entry = self._entries.get((topic, partition))
        return entry[0] if entry is not None else None


def trace_seeks(consumer: Any, trail: SeekTrail) -> None:
    """Keep ``trail`` from the seeks and fetches of Faust's consumer thread."""
    thread = consumer._thread
    fetch = thread._fetch_records

    async def fetch_and_note(
        client: Any, active: Any, timeout: float | None = None, max_records: int | None = None
    ) -> Any:
        trail.thread = threading.get_ident()
        fetcher = client._fetcher  # exists once the client started
        _note_seeks(fetcher, trail)
        records = await fetch(client, active, timeout=timeout, max_records=max_records)
        if records:
            trail.fetched(records, lambda tp: _partition_state(fetcher, tp), time.monotonic())
        return records

    thread._fetch_records = fetch_and_note


def _partition_state(fetcher: Any, tp: Any) -> object:
    """aiokafka's state of ``tp`` in the current assignment: a new object per assignment."""
    try:
        return fetcher._subscriptions._assigned_state(tp)
    except Exception:  # not assigned: matches nothing noted
        return object()


def _note_seeks(fetcher: Any, trail: SeekTrail) -> None:
    if getattr(fetcher, "_tracker_trail", None) is trail:
        return
    seek_to, reset = fetcher.seek_to, fetcher.request_offset_reset

    def seek_and_note(tp: Any, offset: int) -> None:
        seek_to(tp, offset)  # raises, noting nothing, for a partition not assigned
        ordered = threading.get_ident() == trail.thread
        state = _partition_state(fetcher, tp)
        trail.sought(tp.topic, tp.partition, offset if ordered else -1, state)

    def reset_and_note(tps: Iterable[Any], strategy: Any) -> Any:
        tps = list(tps)
        done = reset(tps, strategy)
        for tp in tps:  # to the log's start or end: not a refetch of any hole
            trail.sought(tp.topic, tp.partition, -1, _partition_state(fetcher, tp))
        return done

    fetcher.seek_to, fetcher.request_offset_reset = seek_and_note, reset_and_note
    fetcher._tracker_trail = trail


def hand_over_eagerly(consumer: Any) -> None:
    """Hand each fetched record to its stream at once, not through four new tasks.

    ``Consumer._drain_messages`` passes every record on with ``await
    self.wait_first(callback(message), self.suspend_flow.wait())``: a task for the
    hand-over, one each for the flow, stop and crash events, and ``asyncio.wait``; ~28 µs
    a record on this machine, while the hand-over itself almost never waits (it puts the
    record on its stream's queue). Here the hand-over starts at once. If it completes
    without waiting, that is the whole call; if it has to wait (a full stream queue, flow
    control, a full producer buffer), the rest of it goes to Faust's own ``wait_first``
    as before, so a rebalance's suspended flow still interrupts it. A suspended, stopping
    or crashed consumer takes Faust's way from the start.

    The hand-over's first part now runs in the drain loop's task, its rest (if it waits)
    in a task of its own: it must not rely on its task or its context variables. Faust
    0.15.3's (``Conductor`` ``on_message``: flow control, decode, queue) uses neither; the
    streams that set context variables run in the agents' tasks.
    """
    wait_first = consumer.wait_first

    async def hand_over(*waits: Any, timeout: Any = None) -> Any:
        if (
            len(waits) != 2
            or timeout is not None
            or consumer.suspend_flow.is_set()
            or consumer._stopped.is_set()
            or consumer._crashed.is_set()
        ):
            return await wait_first(*waits, timeout=timeout)
        handing, flow = waits
        try:
            waiting_on = handing.send(None)
        except StopIteration as done:
            flow.close()  # never started: closed so that it is not reported as never awaited
            return WaitResults([handing], [done.value], False)
        except BaseException:
            flow.close()
            raise
        return await wait_first(_resumed(handing, waiting_on), flow)

    consumer.wait_first = hand_over


async def _resumed(coroutine: Coroutine[Any, Any, Any], waiting_on: Any) -> Any:
    """The rest of a coroutine that already ran up to awaiting ``waiting_on``."""
    return await _Resume(coroutine, waiting_on)


class _Resume:
    """Drives a started coroutine from inside another, as the task running it would."""

    def __init__(self, coroutine: Coroutine[Any, Any, Any], waiting_on: Any) -> None:
        self.coroutine, self.waiting_on = coroutine, waiting_on

    def __await__(self) -> Generator[Any, Any, Any]:
        coroutine, yielded = self.coroutine, self.waiting_on
        while True:
            try:
                sent = yield yielded  # the task waits for what the coroutine waits for
            except BaseException as exc:  # a cancellation reaches the coroutine itself
                try:
                    yielded = coroutine.throw(exc)
                except StopIteration as done:
                    return done.value
            else:
                try:
                    yielded = coroutine.send(sent)
                except StopIteration as done:
                    return done.value
