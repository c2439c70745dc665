"""Dead letters: what a rejected message leaves in the DLQ, and never more (PRIVACY.md).

Only an event that claims ``analytics: true`` lands whole. A message whose consent
cannot be read (not JSON, too large, an internal error) leaves a digest: reason,
source topic, partition, offset, size and SHA-256 of its bytes, never the bytes.

The DLQ is compacted and keyed by the customer's pseudonym, so that ``tracker dlq
purge`` and every erasure can remove a person's letters with tombstones. A customer's
letters take turns in ``LETTER_SLOTS`` keys (``<pseudonym>/<slot>``): the row only
counts how many were written, and an erasure knows every key to tombstone. Letters of
a message without a usable key belong to nobody and are keyed by where they came from.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

# Dead letters kept per customer: the next one replaces the oldest (a client that
# keeps sending garbage cannot fill the DLQ), and an erasure writes at most this many
# tombstones.
LETTER_SLOTS = 64
# The key prefix of letters that belong to no customer (the message had no usable key).
UNOWNED = "~"
# Rejects of a whole message whose consent was never read: a digest, never the bytes.
DIGEST_REASONS = frozenset({"invalid_json", "too_large", "internal_error"})


def customer_letter_key(pseudonym: str, number: int) -> str:
    """The DLQ key of a customer's ``number``-th letter (counted from 0)."""
    return f"{pseudonym}/{number % LETTER_SLOTS}"


def unowned_letter_key(partition: int, offset: int, index: int) -> str:
    return f"{UNOWNED}/{partition}/{offset}/{index}"


def customer_letter_keys(pseudonym: str, written: int) -> list[str]:
    """Every DLQ key a customer's letters may occupy after ``written`` letters."""
    return [f"{pseudonym}/{slot}" for slot in range(min(written, LETTER_SLOTS))]


def owner_of(key: str) -> str | None:
    """The pseudonym a DLQ key belongs to, or None for an unowned letter."""
    owner = key.split("/", 1)[0]
    return None if owner == UNOWNED or not owner else owner


@dataclass(frozen=True, slots=True)
class DeadLetter:
    value: bytes | None  # the event as sent (it claims analytics: true); None: a digest
    reason: str
    detail: str
    source_partition: int
    source_offset: int
    rule: str = ""
    key: str = ""  # the DLQ record key; see customer_letter_key, unowned_letter_key
    size: int = 0  # bytes of what was rejected
    sha256: str = ""  # of what was rejected
    source_ms: int = -1  # the rejected record's broker timestamp (a redrive sends it again)

    @classmethod
    def of(
        cls,
        reason: str,
        raw: bytes,
        detail: str,
        where: tuple[int, int],
        key: str,
        rule: str = "",
        source_ms: int = -1,
    ) -> DeadLetter:
        """The letter of ``raw``, whole or as a digest depending on the reason."""
        partition, offset = where
        value = None if reason in DIGEST_REASONS else raw
        digest = hashlib.sha256(raw).hexdigest()
        return cls(value, reason, detail, partition, offset, rule, key, len(raw), digest, source_ms)

    def payload(self, topic: str) -> bytes:
        """The record value: the event, or the digest of what was rejected."""
        if self.value is not None:
            return self.value
        return orjson.dumps(self.digest(topic))

    def digest(self, topic: str) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "topic": topic,
            "partition": self.source_partition,
            "offset": self.source_offset,
            "size": self.size,
            "sha256": self.sha256,
            "detail": self.detail,
        }

    def headers(self, topic: str = "") -> list[tuple[str, bytes]]:
        headers = [
            ("tracker-reject-reason", self.reason.encode()),
            ("tracker-reject-detail", self.detail.encode()),
            ("tracker-source-partition", str(self.source_partition).encode()),
            ("tracker-source-offset", str(self.source_offset).encode()),
            ("tracker-letter", b"event" if self.value is not None else b"digest"),
        ]
        if topic:
            headers.append(("tracker-source-topic", topic.encode()))
        if self.source_ms >= 0:
            headers.append(("tracker-source-timestamp", str(self.source_ms).encode()))
        if self.rule:
            headers.append(("tracker-reject-rule", self.rule.encode()))
        return headers
