"""Reading and rewriting the dead-letter topic with kafka-python (``tracker dlq``).

The DLQ is compacted: the live letters are the newest record of each key, and a
tombstone (a record without a value) removes its key, for readers at once and from
the brokers' disks within ``max.compaction.lag.ms``. A purge or a redrive therefore
writes tombstones, to the partition the letter is in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from tracker.kafka.clients import producer
from tracker.kafka.connection import KafkaConnection
from tracker.kafka.reading import read_to_end
from tracker.privacy.dead_letters import LetterRecord, Resend, plan_event

POLL_MS = 1000


def read_letters(connection: KafkaConnection, topic: str) -> list[LetterRecord]:
    """Every live letter of ``topic``: the newest record of each key, unless a tombstone."""
    from kafka.consumer import KafkaConsumer
    from kafka.structs import TopicPartition

    consumer = KafkaConsumer(enable_auto_commit=False, **connection.kafka_python_options())
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return []
        consumer.assign(tps)
        live: dict[tuple[int, bytes], LetterRecord] = {}
        read_to_end(consumer, tps, lambda record: _apply(live, record))
        return sorted(live.values(), key=lambda r: (r.timestamp_ms, r.partition, r.offset))
    finally:
        consumer.close()


def _apply(live: dict[tuple[int, bytes], LetterRecord], record: Any) -> None:
    key = record.key or b""
    if record.value is None:
        live.pop((record.partition, key), None)  # a tombstone: the letter is gone
        return
    headers = {name: value.decode(errors="replace") for name, value in record.headers or ()}
    live[(record.partition, key)] = LetterRecord(
        key.decode(errors="replace"),
        record.partition,
        record.offset,
        record.timestamp,
        record.value,
        headers,
    )


def tombstone(connection: KafkaConnection, topic: str, letters: Iterable[LetterRecord]) -> int:
    """Remove ``letters`` from the DLQ; returns how many tombstones the brokers acknowledged."""
    kafka = producer(connection)
    try:
        futures = [
            kafka.send(topic, key=x.key.encode(), value=None, partition=x.partition)
            for x in letters
        ]
        for future in futures:
            future.get(timeout=30)
        return len(futures)
    finally:
        kafka.close()


@dataclass(frozen=True, slots=True)
class Outcome:
    letter: LetterRecord
    status: str  # "re-sent", "would re-send" or "skipped"
    detail: str


def redrive(
    connection: KafkaConnection,
    input_topic: str,
    dlq_topic: str,
    letters: list[LetterRecord],
    *,
    dry_run: bool = False,
    progress: Callable[[int], None] = lambda _n: None,
) -> list[Outcome]:
    """Send each letter's event (or the original message) to the input topic again.

    A letter sent is tombstoned, so a second redrive finds nothing; an event that
    arrives twice all the same counts once (the worker de-duplicates by event id).
    """
    from kafka.consumer import KafkaConsumer

    originals = KafkaConsumer(enable_auto_commit=False, **connection.kafka_python_options())
    kafka = producer(connection)
    outcomes = []
    try:
        for letter in letters:
            plan = _original(originals, letter) if letter.is_digest else plan_event(letter)
            outcomes.append(_send(kafka, input_topic, plan, dry_run))
            progress(1)
        kafka.flush()
    finally:
        originals.close()
        kafka.close()
    sent = [o.letter for o in outcomes if o.status == "re-sent"]
    if sent:
        tombstone(connection, dlq_topic, sent)
    return outcomes


def _send(kafka: Any, topic: str, plan: Resend, dry_run: bool) -> Outcome:
    if plan.skipped:
        return Outcome(plan.letter, "skipped", plan.skipped)
    if dry_run:
        return Outcome(plan.letter, "would re-send", f"keyed {len(plan.key or b'')} bytes")
    metadata = kafka.send(
        topic,
        key=plan.key,
        value=plan.value,
        timestamp_ms=plan.timestamp_ms,
        headers=list(plan.headers),
    ).get(timeout=30)
    return Outcome(plan.letter, "re-sent", f"{topic}:{metadata.partition}:{metadata.offset}")


def _original(consumer: Any, letter: LetterRecord) -> Resend:
    """A digest letter: the rejected record itself, read back from the input topic."""
    from kafka.structs import TopicPartition

    topic, partition, offset = letter.source()
    if not topic or partition < 0 or offset < 0:
        return Resend(letter, skipped="the letter does not say where its message was")
    tp = TopicPartition(topic, partition)
    consumer.assign([tp])
    if consumer.beginning_offsets([tp])[tp] > offset:
        return Resend(letter, skipped=f"{topic}:{partition}:{offset} is past the topic's retention")
    consumer.seek(tp, offset)
    records = consumer.poll(timeout_ms=5 * POLL_MS, max_records=1).get(tp, [])
    if not records or records[0].offset != offset:
        return Resend(letter, skipped=f"{topic}:{partition}:{offset} could not be read")
    record = records[0]
    if hashlib.sha256(record.value or b"").hexdigest() != letter.digest().get("sha256"):
        return Resend(letter, skipped="the message at its offset has other bytes (digest)")
    headers = tuple((name, value) for name, value in record.headers or ())
    return Resend(letter, record.key, record.value, record.timestamp, headers)
