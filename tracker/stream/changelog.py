"""Changelog records appended to the producer's open batch as they are written.

Faust's ``Table.send_changelog`` wraps each record in a ``FutureMessage`` for its
producer buffer; a buffer task later awaits aiokafka's ``send`` for it, which appends
the record to the open batch of its partition in aiokafka's accumulator and gives it a
future of its own, resolved (with Faust's callbacks) when the batch is acknowledged.
One row per message makes that the bulk of a 1-event message's producer work
(BENCHMARKS.md, finding 1).

``ChangelogAppender`` takes that last step itself, in the call: the record goes into the
open batch of its changelog partition, and the batch's one future stands for every
record in it. The record so lands where aiokafka's ``send`` would have put it, only
sooner, which keeps what exactness relies on:

- Faust's flush before an offset commit, a rebalance or a recovery read
  (``Producer.flush``, aiokafka's ``flush``) waits for it like for any other record, and
  the worker's commit waits for its batch (``PendingWrites``);
- a partition's records reach the broker in the order they were written: batches of a
  partition leave in order, one in flight at a time (aiokafka's muted partitions), and
  a record written after a batch was taken goes into a new batch behind it;
- a batch is one unit in the log: a crash never keeps a later record of it and loses an
  earlier one.

What it gives up is per-record bookkeeping nobody here reads: Faust's
``on_produce_message`` signal and send sensors for changelog records, and
``_on_changelog_sent``, which only records an offset for stores that persist one (the
memory store does not). aiokafka's ``send`` waits while a partition's batch is full and
not yet taken; here a full batch gets a new one at once, and the agents wait at
``ebb()`` after each message instead, until a partition has at most ``QUEUED_BATCHES``
batches waiting.

A record aiokafka would refuse goes through Faust's path, where it fails as before: one
larger than the producer's request limit (never written on either path; its failure
fails the commit), or any while the producer is not started, is closed or has failed
(nothing is appended in those states, so a record taking Faust's path cannot be
overtaken). So do all of them under Faust's exactly-once mode or threaded producer,
neither of which the worker uses. The internals used are those of aiokafka 0.14
(``tests/unit/test_changelog.py`` pins them); with any other shape the appender turns
itself off with a warning and every record takes Faust's path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.structs import TopicPartition

log = logging.getLogger("tracker.stream.worker")

# Batches of one changelog partition waiting to be taken by aiokafka's sender before an
# agent waits (``ebb``): one being filled and one full, as aiokafka's ``send`` allows.
QUEUED_BATCHES = 2
_NO_HEADERS: list[tuple[str, bytes]] = []


class ChangelogAppender:
    """Appends changelog records of a worker's tables to its producer's open batches.

    ``faust_producer``: the app's producer (``app.producer``); its aiokafka producer is
    looked up at the first write, once the worker has started it. ``track``: what the
    offset commit waits for (``PendingWrites.track``), given each batch's future once.
    """

    def __init__(self, faust_producer: Any, track: Callable[[Any], None]) -> None:
        self.faust_producer = faust_producer
        self.track = track
        self.enabled = True
        self.producer: Any = None  # the aiokafka producer appended to
        self.accumulator: Any = None
        self.limit = 0  # the producer's request limit, which a record must fit in
        self._crowded: set[TopicPartition] = set()
        self._tracked: dict[TopicPartition, Any] = {}  # the batch last given to ``track``
        # Keyed records sent through Faust instead, per topic, until their sends are done.
        self._detoured: dict[str, int] = {}

    def partition(self, table: Any, partition: int) -> ChangelogPartition:
        """The writer of one changelog partition of ``table`` (a Faust table)."""
        return ChangelogPartition(self, table, partition)

    async def ebb(self) -> None:
        """Wait while a changelog partition written since the last call has too many batches.

        Not once the producer failed or closed: its batches then fail, not drain, and the
        failure reaches the commit through their futures.
        """
        for tp in list(self._crowded):
            accumulator = self.accumulator
            queued = accumulator._batches.get(tp)
            while queued and len(queued) > QUEUED_BATCHES and _open(accumulator):
                try:
                    await queued[0].wait_drain()
                except Exception:  # the batch failed: its future tells the commit
                    break
                queued = accumulator._batches.get(tp)
            self._crowded.discard(tp)  # kept while waiting: a cancelled wait leaves it

    def ready(self, topic: str) -> Any:
        """The accumulator to append to, or None: then records take Faust's path."""
        accumulator = self._open_accumulator()
        if accumulator is not None:
            self._known(topic)
        return accumulator

    def _open_accumulator(self) -> Any:
        if self.faust_producer._producer is not self.producer:  # started, stopped, restarted
            self._start()
        accumulator = self.accumulator
        return accumulator if accumulator is not None and _open(accumulator) else None

    def _known(self, topic: str) -> bool:
        """Whether the producer's metadata has ``topic``'s partitions; tracks it if not.

        Checked at every record, as aiokafka's send does: a metadata update narrowed to
        other topics (another send's ``add_topic``) drops this one, and its batches would
        wait for a leader that no update brings. Tracked, its leaders come with the next.
        """
        client = self.producer.client
        if client.cluster.partitions_for_topic(topic) is None:
            client.add_topic(topic)
            return False
        return True

    def append(
        self, tp: TopicPartition, key: bytes, value: bytes | None, headers: list[Any]
    ) -> Any:
        """Append a record to ``tp``'s open batch, or a new one; its batch's future.

        The caller has checked ``ready`` and the size. Each batch is tracked once.
        """
        accumulator = self.accumulator
        queued = accumulator._batches.get(tp)
        batch: Any = queued[-1] if queued else None
        if (
            batch is None
            or batch._builder.append(timestamp=None, key=key, value=value, headers=headers) is None
        ):
            batch = accumulator._append_batch(accumulator.create_builder(), tp)
            # An empty batch takes any record within the request limit.
            batch._builder.append(timestamp=None, key=key, value=value, headers=headers)
            if len(accumulator._batches[tp]) > QUEUED_BATCHES:
                self._crowded.add(tp)
        if self._tracked.get(tp) is not batch:
            self._tracked[tp] = batch
            self.track(batch.future)
        return batch.future

    def append_keyed(
        self,
        topic: str,
        key: bytes,
        value: bytes | None,
        headers: list[tuple[str, bytes]],
        partition: int | None = None,
    ) -> Any:
        """Append a record to ``partition``, or to the one the producer's partitioner picks
        for ``key``, as aiokafka's ``send`` would; None when it cannot be done now (the
        caller sends it).

        Also None while an earlier record of the topic is still on Faust's path
        (``detour``): appended, this one could overtake it (a tombstone its letter, an
        account's erase the visits it erases, an identity record an earlier one of its
        source).
        """
        if self._detoured.get(topic):
            return None
        if self._open_accumulator() is None or not self._known(topic):
            return None
        if DefaultRecordBatchBuilder.estimate_size_in_bytes(key, value, headers) > self.limit:
            return None
        if partition is None:
            partition = self.producer._partition(topic, None, key, value, key, value)
        elif partition not in self.producer.client.cluster.partitions_for_topic(topic):
            return None  # aiokafka's send refuses it: Faust's path fails as it would
        return self.append(TopicPartition(topic, partition), key, value, headers)

    def append_or_detour(
        self,
        topic: str,
        key: bytes,
        value: bytes | None,
        headers: list[tuple[str, bytes]],
        partition: int | None = None,
    ) -> bool:
        """``append_keyed``; False: the caller sends the record through Faust, and calls
        ``arrived`` once that send is done (the records after it follow it there)."""
        try:
            appended = self.append_keyed(topic, key, value, headers, partition) is not None
        except Exception:  # whatever aiokafka's internals raise: Faust's path sends it
            log.exception("record to %s not appended; sending it through Faust", topic)
            appended = False
        if not appended:
            self._detoured[topic] = self._detoured.get(topic, 0) + 1
        return appended

    def arrived(self, topic: str) -> None:
        """A detoured record's send is done (acknowledged or failed)."""
        left = self._detoured.get(topic, 0) - 1
        if left > 0:
            self._detoured[topic] = left
        else:
            self._detoured.pop(topic, None)

    def _start(self) -> None:
        self.producer = producer = getattr(self.faust_producer, "_producer", None)
        self.accumulator = None
        if not self.enabled or producer is None:
            return  # not started (or stopping): Faust's path, which fails as it always did
        app = getattr(self.faust_producer, "app", None)
        conf = getattr(app, "conf", None)
        if getattr(app, "in_transaction", False) or getattr(conf, "producer_threaded", False):
            # Transactions need Faust's transactional producers; a threaded producer
            # runs its accumulator on another thread's event loop.
            self._disable("Faust's exactly-once or threaded producer is on")
            return
        accumulator = getattr(producer, "_message_accumulator", None)
        if not _appendable(accumulator):
            self._disable("this aiokafka's accumulator is not the one it appends to (0.14)")
            return
        self.accumulator = accumulator
        self.limit = int(producer._max_request_size)

    def _disable(self, why: str) -> None:
        log.warning("changelog records go through Faust's producer buffer: %s", why)
        self.enabled = False


def _open(accumulator: Any) -> bool:
    """Records can still be appended: not closed, no fatal error (aiokafka's checks)."""
    return not accumulator._closed and accumulator._exception is None


class ChangelogPartition:
    """One changelog partition's writer: ``send`` appends a record and returns its future.

    ``hold()`` keeps what is sent until ``release()`` (returning the last record's future,
    or None): the worker holds a message's rows until its dead letters are appended, so
    that no row reaches the broker before the letters of its message (a row there marks
    the message applied, and a re-delivered applied message sends no letters).
    """

    def __init__(self, appender: ChangelogAppender, table: Any, partition: int) -> None:
        self.appender = appender
        self.table = table
        self.partition = partition
        self.tp = TopicPartition(table.changelog_topic.get_topic_name(), partition)
        self.held: list[tuple[bytes, bytes | None]] | None = None

    def send(self, key: bytes, value: bytes | None) -> Any:
        """Append one record; the future returned resolves once Kafka acknowledged it
        (None while held)."""
        if self.held is not None:
            self.held.append((key, value))
            return None
        appender, tp = self.appender, self.tp
        accumulator = appender.ready(tp.topic)
        size = DefaultRecordBatchBuilder.estimate_size_in_bytes(key, value, _NO_HEADERS)
        if accumulator is None or size > appender.limit:
            sent = self.table.send_changelog(self.partition, key, value, "raw", "raw")
            appender.track(sent)
            return sent
        return appender.append(tp, key, value, _NO_HEADERS)

    def hold(self) -> None:
        if self.held is None:  # records a failed release left stay first
            self.held = []

    def release(self) -> Any:
        held, self.held = self.held or [], None
        sent = None
        for i, (key, value) in enumerate(held):
            try:
                sent = self.send(key, value)
            except BaseException:
                self.held = held[i:]  # not lost: the next release writes them, in order
                raise
        return sent


def _appendable(accumulator: Any) -> bool:
    """The accumulator has what ``send`` uses, in the shape of aiokafka 0.14."""
    try:
        return (
            isinstance(accumulator._batches, dict)
            and callable(accumulator._append_batch)
            and callable(accumulator.create_builder)
            and hasattr(accumulator, "_closed")
            and hasattr(accumulator, "_exception")
        )
    except AttributeError:
        return False


__all__ = ["QUEUED_BATCHES", "ChangelogAppender", "ChangelogPartition"]
