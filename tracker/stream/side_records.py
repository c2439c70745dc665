"""What a message sends besides its rows, appended ahead of them.

Applying a message can make three kinds of records besides its changelog rows: dead
letters, the tombstones of an erased customer's letters (their DLQ keys), and account
activity for the account stage. The rows mark the message applied: after a crash a
re-delivered applied message is skipped and sends none of them again. So none of them
may reach the broker after the message's rows. The worker holds the rows while it
applies the message, appends the other records to the producer's batches (the appender
of ``stream.changelog``), then releases the rows, all in one pass of the event loop
(``apply_held``). Sent again after a crash they do no harm: letters and tombstones keep
their keys in a compacted topic, and the account stage's updates are idempotent.

Appended, they also skip Faust's per-record path (``Topic.send``: a ``FutureMessage``, a
buffer task, aiokafka's ``send``), which an array of events with an ``account_id`` took
for every message.

What cannot be appended at once (before the producer starts, a topic whose partitions it
does not know yet, a record over the request limit, Faust's exactly-once or threaded
producer) is sent through Faust after the rows (``send_rest``), with the windows
``stream.dead_letters`` lists. Until that send is done, the topic's later records follow
it through Faust (``ChangelogAppender.append_or_detour``): appended, one could overtake
it, a tombstone its letter or an account's erase the visits it erases.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from tracker.core.accounts import pack
from tracker.core.ingest import DeadLetter
from tracker.core.partition import PartitionProcessor
from tracker.stream.changelog import ChangelogAppender
from tracker.stream.dead_letters import append_letters, send_letter
from tracker.stream.pending import PendingWrites
from tracker.stream.store import FaustStore


@dataclass(slots=True)
class SideRecords:
    letters: list[DeadLetter]
    tombstones: list[bytes]  # the DLQ keys of an erased customer's letters
    activities: list[tuple[bytes, bytes]]  # (account pseudonym, its packed activities)


@dataclass(frozen=True, slots=True)
class SideTopics:
    input: str  # named in each letter
    dlq: str
    activity: str


def take(processor: PartitionProcessor, letters: list[DeadLetter]) -> SideRecords:
    """The records the processor's step made besides rows; its outboxes are emptied."""
    side = SideRecords(
        letters,
        [key.encode() for key in processor.erased_letters],
        [(account.encode(), record) for account, record in pack(processor.outbox)],
    )
    processor.erased_letters.clear()
    processor.outbox.clear()
    return side


def apply_held(
    processor: PartitionProcessor,
    apply: Callable[[], list[DeadLetter]],
    appender: ChangelogAppender | None,
    topics: SideTopics,
) -> SideRecords:
    """Run ``apply`` with the processor's rows held until its other records are appended.

    Returns what is left to send (``send_rest``). Without an appender nothing is held:
    everything goes through Faust's buffer, in the order it was made.
    """
    store = processor.store if isinstance(processor.store, FaustStore) else None
    if store is not None:
        store.defer_writes()
    try:
        side = take(processor, apply())
        if appender is not None:
            side = append_ahead(appender, side, topics)
    finally:
        if store is not None:
            store.write_deferred()
    return side


def append_ahead(appender: ChangelogAppender, side: SideRecords, topics: SideTopics) -> SideRecords:
    """Append what can be appended now (tracked by the appender); the rest, to send."""
    letters = append_letters(appender, topics.dlq, side.letters, topics.input)
    tombstones = [
        key for key in side.tombstones if not appender.append_or_detour(topics.dlq, key, None, [])
    ]
    activities = [
        (key, record)
        for key, record in side.activities
        if not appender.append_or_detour(topics.activity, key, record, [])
    ]
    return SideRecords(letters, tombstones, activities)


async def send_rest(
    side: SideRecords,
    dlq: Any,
    activities: Any,
    pending: PendingWrites,
    topics: SideTopics,
    appender: ChangelogAppender | None,
) -> None:
    """Send through Faust (``Topic.send``) what could not be appended, tracked for commits.

    With an appender, each was detoured (``append_or_detour``): the topic's records take
    Faust's path, in order, until these sends are done.
    """
    for letter in side.letters:
        await faust_sent(appender, topics.dlq, send_letter(dlq, pending, topics.input, letter))
    for key in side.tombstones:  # an erasure: the customer's letters go too
        pending.track(await faust_sent(appender, topics.dlq, dlq.send(key=key, value=None)))
    for key, record in side.activities:
        sending = activities.send(key=key, value=record)
        pending.track(await faust_sent(appender, topics.activity, sending))


async def faust_sent(
    appender: ChangelogAppender | None, topic: str, sending: Awaitable[Any]
) -> Any:
    """The send's future; once it is done (or the send failed), the detour is over."""
    try:
        sent = await sending
    except BaseException:
        if appender is not None:
            appender.arrived(topic)
        raise
    if appender is not None:
        if isinstance(sent, asyncio.Future):
            sent.add_done_callback(lambda _: appender.arrived(topic))
        else:  # a stand-in without a future: done already
            appender.arrived(topic)
    return sent
