"""Dead letters to the DLQ topic, ahead of the rows of their message.

A message's state row marks it applied: after a crash, a re-delivered message whose
row is in the changelog is skipped, and its letters are not sent again (their keys
count the customer's letters, which the row already holds). So no row may reach the
broker before the letters of its message. The worker holds a message's changelog
records while it applies the message and appends its letters to the producer's batches
first, in the same pass of the event loop (``append_letters``; aiokafka drains them in
the same produce request, or the letters' first). A letter that cannot be appended
that way (the DLQ's partitions not known yet, a letter over the request limit, the
appender off) is sent after the rows are released (``send_letter``), as before.
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
    """Append what can be appended now (tracked by the appender); the rest, to send."""
    rest = []
    for letter in letters:
        key, value = letter.key.encode(), letter.payload(topic)
        if appender.append_keyed(dlq_topic, key, value, letter.headers(topic)) is None:
            rest.append(letter)
    return rest


async def send_letter(dlq: Any, pending: PendingWrites, topic: str, letter: DeadLetter) -> None:
    """Dead-letter the event, or a digest (PRIVACY.md); if refused, a truncated copy.

    Keyed by the letter's own key (the customer's pseudonym), never the raw id. A
    refused send raises in the agent, which Faust restarts without the letter.
    """
    key, value = letter.key.encode(), letter.payload(topic)
    try:
        pending.track(await dlq.send(key=key, value=value, headers=letter.headers(topic)))
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
        pending.track(await dlq.send(key=key, value=truncated, headers=headers))
