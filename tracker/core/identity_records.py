"""Records of the internal identity topic, and the compact form of a held or forwarded event.

Identity stitching moves state between input partitions through one internal
topic, co-partitioned with the input (docs/identity.md#internal-topic). A
record goes to the partition that owns its target row and names that row by
pseudonym: records carry pseudonyms, partition numbers, hashes, times and
label codes, never a raw id, an event's JSON or a comment's text.

Every record carries its *origin* (source partition, stream, offset, index):
the receiving row keeps the highest origin it applied from each source
stream, so a record sent again after a crash is recognised and skipped
(``tracker.core.identity_stage``). Enumerations are written as the stable
codes of ``tracker.core.codes``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson

from tracker.core.codes import (
    EVENT_TYPE_CODES,
    FORWARD_KIND_CODES,
    IDENTITY_RECORD_CODES,
    LINK_OUTCOME_CODES,
    CodeTable,
)
from tracker.core.contract import EVENT_TYPES
from tracker.core.customer import CHANNEL_TABLE, SOURCE_TABLE
from tracker.core.events import EventView, PreScored
from tracker.core.experiments import Pair
from tracker.core.feedback import sentiment_of
from tracker.core.labels import OTHER, LabelSets
from tracker.core.sessionizer import Rules
from tracker.core.support import decode_ref, encode_ref
from tracker.core.vitals import decode_vital, encode_vital

STREAM_INPUT = 0  # the input topic
STREAM_IDENTITY = 1  # the identity topic
STREAM_TIMER = 2  # housekeeping: records made when the watermark moved (a counter of its own)
LINK_OUTCOMES = ("linked", "already", "conflict", "no_consent")
FORWARD_KINDS = ("event", "withdrawal", "erase")
RECORD_KINDS = ("claim", "reply", "forward", "unlink")
EVENT_TYPE_TABLE = CodeTable("event type", EVENT_TYPES, EVENT_TYPE_CODES)
OUTCOME_TABLE = CodeTable("link outcome", LINK_OUTCOMES, LINK_OUTCOME_CODES)
FORWARD_TABLE = CodeTable("forward kind", FORWARD_KINDS, FORWARD_KIND_CODES)
KIND_TABLE = CodeTable("identity record kind", RECORD_KINDS, IDENTITY_RECORD_CODES)


class InvalidRecordError(ValueError):
    """An identity record that does not decode (only the tracker writes them: a bug)."""


@dataclass(frozen=True, slots=True, order=True)
class Origin:
    """Where a record was made: the message (or identity record) it came from."""

    partition: int
    stream: int  # STREAM_INPUT or STREAM_IDENTITY
    offset: int
    index: int  # the record's number among those the message made


@dataclass(frozen=True, slots=True)
class Claim:
    """An identify: ``customer`` (on ``customer_partition``) claims the anonymous id ``anon``."""

    origin: Origin
    anon: str
    customer: str
    customer_partition: int
    claim: int  # hash of the identify's event id: names the link
    at_ms: int
    channel: int  # the identify's channel (index into CHANNELS)
    full: bool = False  # the customer holds the most links allowed: a conflict

    @property
    def target(self) -> str:
        return self.anon


@dataclass(frozen=True, slots=True)
class Reply:
    """What became of a claim; for a new link, the anonymous id's state (``payload``)."""

    origin: Origin
    customer: str
    anon: str
    anon_partition: int
    claim: int
    outcome: str  # one of LINK_OUTCOMES
    at_ms: int  # the identify's time and channel: it counts toward the customer's reach
    channel: int
    payload: list[Any] | None = None  # customer.encode_state of the state handed over

    @property
    def target(self) -> str:
        return self.customer


@dataclass(frozen=True, slots=True)
class Forward:
    """An event (or a withdrawal, an erasure request) that arrived under a linked id."""

    origin: Origin
    customer: str
    kind: str  # one of FORWARD_KINDS
    event: list[Any] | None = None  # encode_view, for kind "event"
    at_ms: int = 0  # withdrawal and erase: when
    id_hash: int | None = None  # withdrawal: its event id's hash (for de-duplication)
    reason: str = "request"  # erase: the erasure reason

    @property
    def target(self) -> str:
        return self.customer


@dataclass(frozen=True, slots=True)
class Unlink:
    """The customer was erased: its linked anonymous id becomes a withdrawal marker."""

    origin: Origin
    anon: str
    customer: str
    until_ms: int  # the customer's marker lasts until then; the anonymous id's too

    @property
    def target(self) -> str:
        return self.anon


Record = Claim | Reply | Forward | Unlink


def encode_record(record: Record) -> list[Any]:
    o = record.origin
    head = [o.partition, o.stream, o.offset, o.index]
    if isinstance(record, Claim):
        body: list[Any] = [
            record.anon,
            record.customer,
            record.customer_partition,
            record.claim,
            record.at_ms,
            CHANNEL_TABLE.to_code[record.channel],
            record.full,
        ]
        kind = "claim"
    elif isinstance(record, Reply):
        body = [
            record.customer,
            record.anon,
            record.anon_partition,
            record.claim,
            OUTCOME_TABLE.to_code[LINK_OUTCOMES.index(record.outcome)],
            record.at_ms,
            CHANNEL_TABLE.to_code[record.channel],
            record.payload,
        ]
        kind = "reply"
    elif isinstance(record, Forward):
        forward = FORWARD_TABLE.to_code[FORWARD_KINDS.index(record.kind)]
        body = [record.customer, forward, record.event, record.at_ms, record.id_hash]
        body.append(record.reason)
        kind = "forward"
    else:
        body = [record.anon, record.customer, record.until_ms]
        kind = "unlink"
    return [KIND_TABLE.to_code[RECORD_KINDS.index(kind)], *head, *body]


def record_bytes(record: Record) -> bytes:
    return orjson.dumps(encode_record(record))


def decode_record(data: Any) -> Record:
    """A record from its JSON form; ``InvalidRecordError`` when it is not one."""
    try:
        kind = RECORD_KINDS[KIND_TABLE.from_code[int(data[0])]]
        origin = Origin(int(data[1]), int(data[2]), int(data[3]), int(data[4]))
        body = data[5:]
        if kind == "claim":
            anon, customer, partition, claim, at_ms, channel, full = body
            return Claim(
                origin,
                _text(anon),
                _text(customer),
                int(partition),
                int(claim),
                int(at_ms),
                CHANNEL_TABLE.from_code[int(channel)],
                bool(full),
            )
        if kind == "reply":
            customer, anon, partition, claim, outcome, at_ms, channel, payload = body
            return Reply(
                origin,
                _text(customer),
                _text(anon),
                int(partition),
                int(claim),
                LINK_OUTCOMES[OUTCOME_TABLE.from_code[int(outcome)]],
                int(at_ms),
                CHANNEL_TABLE.from_code[int(channel)],
                None if payload is None else list(payload),
            )
        if kind == "forward":
            customer, forward, event, at_ms, hashed, reason = body
            return Forward(
                origin,
                _text(customer),
                FORWARD_KINDS[FORWARD_TABLE.from_code[int(forward)]],
                None if event is None else list(event),
                int(at_ms),
                None if hashed is None else int(hashed),
                str(reason),
            )
        anon, customer, until_ms = body
        return Unlink(origin, _text(anon), _text(customer), int(until_ms))
    except (TypeError, ValueError, IndexError, KeyError) as exc:
        raise InvalidRecordError(f"not an identity record: {type(exc).__name__}") from None


def record_from_bytes(raw: bytes | None) -> Record:
    try:
        data = orjson.loads(raw or b"")
    except orjson.JSONDecodeError:
        raise InvalidRecordError("an identity record is JSON") from None
    if not isinstance(data, list):
        raise InvalidRecordError("an identity record is a JSON array")
    return decode_record(data)


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("a pseudonym is a non-empty string")
    return value


# --- events held in state or forwarded ------------------------------------------------------


def encode_view(rules: Rules, ev: EventView) -> list[Any]:
    """An event's compact form: label values and codes, its comment replaced by its score."""
    score = sentiment_of(rules.scorer, ev)
    view = [
        EVENT_TYPE_TABLE.to_code[EVENT_TYPES.index(ev.event_type)],
        ev.id_hash,
        ev.at_ms,
        CHANNEL_TABLE.to_code[ev.channel],
        rules.labels.touchpoints[ev.touchpoint],
        ev.action,
        None if ev.revenue is None else str(ev.revenue),
        ev.currency,
        [ev.nps, ev.csat, ev.ces],
        None if score is None else [score.compound, score.polarity],
        ev.language,
        ev.account,
        SOURCE_TABLE.to_code[ev.source],
        encode_vital(ev.vital),
        encode_ref(ev.ticket),
        None if ev.arm is None else list(ev.arm),
    ]
    if ev.apart_claim >= 0:  # only then: every other encoding stays as it was
        view.append(ev.apart_claim)
    return view


def _arm(labels: LabelSets, data: Any) -> Pair | None:
    """An experiment pair, if this worker's allow-list still has it (older records: none)."""
    if not data:
        return None
    experiment, variant = data
    return labels.arm(str(experiment), str(variant))


def decode_view(labels: LabelSets, data: list[Any]) -> EventView:
    """The event again, its touchpoint an index into this partition's allow-list."""
    try:
        kind, hashed, at_ms, channel, label, action, revenue, currency, answers = data[:9]
        score, language, account, source = data[9:13]
        nps, csat, ces = answers
        touchpoints = labels.touchpoints
        touchpoint = touchpoints.index(label if label in touchpoints else OTHER)
        return EventView(
            EVENT_TYPES[EVENT_TYPE_TABLE.from_code[int(kind)]],
            int(hashed),
            int(at_ms),
            CHANNEL_TABLE.from_code[int(channel)],
            touchpoint,
            action,
            None if revenue is None else Decimal(revenue),
            currency,
            nps,
            csat,
            ces,
            None,
            language,
            account,
            SOURCE_TABLE.from_code[int(source)],
            None if score is None else PreScored(float(score[0]), str(score[1])),
            decode_vital(data[13]) if len(data) > 13 else None,
            decode_ref(data[14]) if len(data) > 14 else None,
            _arm(labels, data[15]) if len(data) > 15 else None,
            int(data[16]) if len(data) > 16 else -1,
        )
    except (TypeError, ValueError, IndexError, KeyError, ArithmeticError) as exc:
        raise InvalidRecordError(f"not an encoded event: {type(exc).__name__}") from None
