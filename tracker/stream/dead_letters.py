"""Dead letters to the DLQ topic, ahead of the rows of their message.

A message's state row marks it applied: after a crash a re-delivered message whose row
is in the changelog is skipped, and its letters are not sent again (their keys count
the customer's letters, which the row already holds). So a row must not reach the broker
before the letters of its message. The worker holds a message's changelog records while
it applies the message, appends its letters to the producer's batches, then releases
the rows, all in one pass of the event loop (``append_letters``, called by
``stream.side_records``, which does the same for tombstones and account activity).
aiokafka's sender then takes them in the same round, one produce request per broker: on
one broker, a letter that fits its partition's open batch travels with the rows or
before them.

Not covered (RELIABILITY.md, open problems): a letter that starts a new batch behind a
full one of its DLQ partition, or whose batch is retried, leaves a round after the rows;
with the DLQ and changelog partitions led by different brokers, the rows' request may
go first; and a letter that cannot be appended at once (the DLQ's partitions not known
yet, a letter over the request limit) is sent after the rows (``send_letter``). Faust's
producer buffer had the same windows. Closing them needs the rows held until the
letters are acknowledged, with the partition's other writers waiting behind them.
"""

from __future__ import annotations

import logging
from typing import Any

from faust.exceptions import ProducerSendError

from tracker.core.ingest import DeadLetter
from tracker.stream.changelog import ChangelogAppender
from tracker.stream.pending import PendingWrites

log = logging.getLogger("tracker.stream.worker")
TRUNCATED_LETTER_BYTES = 65_536


def append_letters(
    appender: ChangelogAppender, dlq_topic: str, letters: list[DeadLetter], topic: str
) -> list[DeadLetter]:
    """Append what can be appended now (tracked by the appender); the rest, to send (each
    detoured: ``ChangelogAppender.append_or_detour``)."""
    return [
        letter
        for letter in letters
        if not appender.append_or_detour(
            dlq_topic, letter.key.encode(), letter.payload(topic), letter.headers(topic)
        )
    ]


async def send_letter(dlq: Any, pending: PendingWrites, topic: str, letter: DeadLetter) -> Any:
    """Dead-letter the event, or a digest (PRIVACY.md); if refused, a truncated copy.

    Keyed by the letter's own key (the customer's pseudonym), never the raw id. A
    refused send raises in the agent, which Faust restarts without the letter. Returns
    the send's future (tracked).
    """
    key, value = letter.key.encode(), letter.payload(topic)
    try:
        sent = await dlq.send(key=key, value=value, headers=letter.headers(topic))
        pending.track(sent)
        return sent
    except ProducerSendError as exc:
        log.error(
            "partition %d offset %d: dead letter of %d bytes refused (%s); sending its "
            "first %d bytes",
            letter.source_partition,
            letter.source_offset,
            len(value),
            type(exc.__cause__ or exc).__name__,
            TRUNCATED_LETTER_BYTES,
        )
        headers = [
            *letter.headers(topic),
            ("tracker-value-truncated", str(len(value)).encode()),
        ]
        truncated = value[:TRUNCATED_LETTER_BYTES]
        sent = await dlq.send(key=key, value=truncated, headers=headers)
        pending.track(sent)
        return sent
