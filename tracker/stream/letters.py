"""Dead letters to the DLQ topic, and what happens when Kafka refuses one."""

from __future__ import annotations

import logging
from typing import Any

from faust.exceptions import ProducerSendError

from tracker.core.ingest import DeadLetter
from tracker.stream.pending import PendingWrites

log = logging.getLogger("tracker.stream.worker")
TRUNCATED_LETTER_BYTES = 65_536


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
        headers = [*letter.headers(topic), ("tracker-value-truncated", str(len(value)).encode())]
        truncated = value[:TRUNCATED_LETTER_BYTES]
        pending.track(await dlq.send(key=key, value=truncated, headers=headers))
