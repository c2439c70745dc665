"""What ``tracker dlq`` does with the letters it read: count, mask, select, plan a redrive.

Pure: the records come from ``tracker.kafka.dlq``, which reads the compacted DLQ
(the newest record per key; a tombstone removes its key) and writes back.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from tracker.core.letters import owner_of

# Fields of an event that name a person, an order or a company: masked in a sample.
RAW_ID_FIELDS = frozenset({"customer_id", "anonymous_id", "order_id", "account_id", "userId"})
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
MASK = "***"


@dataclass(frozen=True, slots=True)
class LetterRecord:
    """One live record of the DLQ: the newest value of its key."""

    key: str
    partition: int
    offset: int
    timestamp_ms: int
    value: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def reason(self) -> str:
        return self.headers.get("tracker-reject-reason", "unknown")

    @property
    def is_digest(self) -> bool:
        """A letter of a message whose consent was never read: no bytes, a digest."""
        return self.headers.get("tracker-letter") == "digest"

    @property
    def owner(self) -> str | None:
        return owner_of(self.key)

    def digest(self) -> dict[str, Any]:
        data = _json(self.value)
        return data if isinstance(data, dict) else {}

    def source(self) -> tuple[str, int, int]:
        """(topic, partition, offset) of the rejected record."""
        digest = self.digest() if self.is_digest else {}
        topic = self.headers.get("tracker-source-topic") or str(digest.get("topic", ""))
        partition = int(self.headers.get("tracker-source-partition", "-1"))
        offset = int(self.headers.get("tracker-source-offset", "-1"))
        return topic, partition, offset

    def source_timestamp_ms(self) -> int:
        """The rejected record's broker timestamp, else when the letter was written."""
        stamp = self.headers.get("tracker-source-timestamp")
        return int(stamp) if stamp else self.timestamp_ms


def counts(records: Iterable[LetterRecord], bucket_s: int = 3600) -> dict[str, Any]:
    """Letters by reason, and by reason per time bucket of when they were written."""
    by_reason: Counter[str] = Counter()
    by_time: dict[str, Counter[str]] = {}
    for record in records:
        by_reason[record.reason] += 1
        start = record.timestamp_ms // 1000 // bucket_s * bucket_s
        label = datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%dT%H:%MZ")
        by_time.setdefault(label, Counter())[record.reason] += 1
    return {
        "letters": sum(by_reason.values()),
        "by_reason": dict(sorted(by_reason.items())),
        "by_time": {t: dict(sorted(c.items())) for t, c in sorted(by_time.items())},
    }


def sample(record: LetterRecord, show_raw: bool = False) -> dict[str, Any]:
    """How ``dlq inspect`` shows one letter: its raw ids masked unless asked for."""
    topic, partition, offset = record.source()
    shown: dict[str, Any] = {
        "dlq": f"{record.partition}:{record.offset}",
        "key": record.key,
        "written": _iso(record.timestamp_ms),
        "reason": record.reason,
        "detail": record.headers.get("tracker-reject-detail", ""),
        "source": f"{topic}:{partition}:{offset}",
    }
    if record.is_digest:
        shown["digest"] = {k: record.digest().get(k) for k in ("size", "sha256")}
        return shown
    data = _json(record.value)
    if data is None:
        shown["value"] = f"<{len(record.value)} bytes, not JSON>"
    else:
        shown["event"] = data if show_raw else mask(data)
    return shown


def mask(data: Any) -> Any:
    """``data`` with raw identifiers and e-mail-like strings replaced."""
    if isinstance(data, dict):
        return {k: MASK if k in RAW_ID_FIELDS else mask(v) for k, v in data.items()}
    if isinstance(data, list):
        return [mask(v) for v in data]
    if isinstance(data, str):
        return EMAIL.sub(MASK, data)
    return data


def select(
    records: Iterable[LetterRecord],
    reasons: Sequence[str] = (),
    since_ms: int | None = None,
    until_ms: int | None = None,
) -> list[LetterRecord]:
    return [
        r
        for r in records
        if (not reasons or r.reason in reasons)
        and (since_ms is None or r.timestamp_ms >= since_ms)
        and (until_ms is None or r.timestamp_ms < until_ms)
    ]


def belongs_to(record: LetterRecord, pseudonym: str, customer_id: str) -> bool:
    """Keyed by the person, or carrying their raw id (another key's message, no key)."""
    if record.owner == pseudonym:
        return True
    return not record.is_digest and customer_id.encode() in record.value


@dataclass(frozen=True, slots=True)
class Resend:
    """What a redrive sends to the input topic for one letter (or why it cannot)."""

    letter: LetterRecord
    key: bytes | None = None
    value: bytes | None = None
    timestamp_ms: int | None = None
    headers: tuple[tuple[str, bytes], ...] = ()
    skipped: str = ""  # why nothing is sent


def plan_event(record: LetterRecord) -> Resend:
    """An event letter goes back keyed by its own customer_id, at its original time."""
    data = _json(record.value)
    if not isinstance(data, dict):
        return Resend(record, skipped="not an event object: fix and send it yourself")
    customer = data.get("customer_id")
    if not isinstance(customer, str) or not 1 <= len(customer) <= 128:
        return Resend(record, skipped="no usable customer_id: fix and send it yourself")
    return Resend(record, customer.encode(), record.value, record.source_timestamp_ms())


def _json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")
