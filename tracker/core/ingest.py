"""Turning one Kafka message into classified items (docs/metrics.md#order-of-checks).

parse -> consent -> schema -> key match -> bot. Consent is default deny: only an event
that claims ``analytics: true`` goes on; one whose consent is missing, null,
empty or malformed is dropped as ``no_consent`` before anything is stored or
dead-lettered, and an explicit ``analytics: false`` is dropped too, or is a
withdrawal when it is a consent event, even if the rest is malformed. A valid event
whose ``user_agent`` is a bot's (``bots.bot_rule``) is dropped as ``Bot``. An agent's
event (``support_reply``, ``support_resolved``) goes on whatever consent it claims: its
ticket's counts, checked against the customer's state (docs/metrics.md#support). Later
checks (future timestamp, duplicate, late) need state or time and happen in the
partition processor.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import ValidationError

from tracker.core.bots import bot_rule
from tracker.core.bounds import rule_of
from tracker.core.contract import AGENT_EVENT_TYPES, parse_event
from tracker.core.fast_events import AnyEvent, vouch
from tracker.core.letters import DeadLetter as DeadLetter  # where the processor's callers look

MAX_ERROR_CHARS = 1000


@dataclass(frozen=True, slots=True)
class Reject:
    reason: str  # invalid_json, invalid_event, key_mismatch, too_large, future_timestamp
    raw: bytes
    detail: str
    rule: str = ""  # for invalid_event: the first rule broken, e.g. out_of_range:revenue


@dataclass(frozen=True, slots=True)
class NoConsent:
    pass


@dataclass(frozen=True, slots=True)
class Bot:
    rule: str  # bots.RULES


@dataclass(frozen=True, slots=True)
class Withdrawal:
    event_id: str | None
    occurred_at: str | None


@dataclass(frozen=True, slots=True, init=False)
class Valid:
    event: AnyEvent  # a pydantic model, or a struct that ``fast_events.vouch`` vouched for
    source: Any  # the decoded item, or the message bytes when it held one event

    # Written out, not generated: mypyc compiles it, the generated one stays interpreted.
    def __init__(self, event: AnyEvent, source: Any) -> None:
        object.__setattr__(self, "event", event)
        object.__setattr__(self, "source", source)

    def raw(self) -> bytes:
        return self.source if isinstance(self.source, bytes) else orjson.dumps(self.source)


Item = Reject | NoConsent | Bot | Withdrawal | Valid


@dataclass(frozen=True, slots=True)
class Limits:
    max_bytes: int = 1_048_576
    max_events: int = 500
    bots: bool = True  # judge events' user_agent (off: TRACKER_BOT_FILTER_OFF=kafka)


def decode_key(key: bytes | None) -> str | None:
    """The customer id the message is keyed by, or None when unusable."""
    if not key:
        return None
    try:
        text = key.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if 1 <= len(text) <= 128 else None


def classify(key: str | None, value: bytes | None, limits: Limits) -> list[Item]:
    raw = value or b""
    if len(raw) > limits.max_bytes:
        return [Reject("too_large", raw, f"message of {len(raw)} bytes > {limits.max_bytes}")]
    try:
        decoded = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return [Reject("invalid_json", raw, f"not UTF-8 JSON: {exc}"[:MAX_ERROR_CHARS])]
    if isinstance(decoded, dict):
        items: list[Any] = [decoded]
    elif isinstance(decoded, list) and decoded:
        items = decoded
    else:
        return [Reject("invalid_json", raw, "a message is an event object or a non-empty array")]
    if len(items) > limits.max_events:
        return [Reject("too_large", raw, f"batch of {len(items)} events > {limits.max_events}")]
    single = len(items) == 1 and isinstance(decoded, dict)
    return [_classify_one(key, item, raw if single else None, limits.bots) for item in items]


def _classify_one(key: str | None, item: Any, original: bytes | None, bots: bool) -> Item:
    consent = item.get("consent") if isinstance(item, dict) else None
    analytics = consent.get("analytics") if isinstance(consent, dict) else None
    if analytics is not True:  # orjson reads JSON true as the one True
        if analytics is False and item.get("event_type") == "consent":
            event_id = item.get("event_id")
            occurred = item.get("occurred_at")
            return Withdrawal(
                event_id if isinstance(event_id, str) and event_id else None,
                occurred if isinstance(occurred, str) else None,
            )
        if not _agent(item):
            return NoConsent()
    # msgspec where it is certain to agree with pydantic, at ~60% of its cost; the
    # rest (orders, unusual timestamps, every invalid event) as pydantic judges it.
    event: AnyEvent | None = vouch(item)
    if event is None:
        try:
            event = parse_event(item)
        except ValidationError as exc:
            if analytics is not True:
                return NoConsent()  # an agent event whose ticket cannot be read: default deny
            errors = exc.errors(include_url=False, include_input=False)
            reason = _summarize(exc)
            return Reject("invalid_event", _raw(original, item), reason, rule_of(errors[0]))
    if key is None or event.customer_id != key:
        reason = "customer_id differs from the message key"
        return Reject("key_mismatch", _raw(original, item), reason)
    if bots and event.user_agent is not None:
        rule = bot_rule(event.user_agent)
        if rule is not None:
            return Bot(rule)
    return Valid(event, original if original is not None else item)


def _agent(item: Any) -> bool:
    """An agent's event: its ticket's consent counts, checked with the customer's state."""
    return isinstance(item, dict) and item.get("event_type") in AGENT_EVENT_TYPES


def _summarize(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in error["loc"]) or "event"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)[:MAX_ERROR_CHARS]


def _raw(original: bytes | None, item: Any) -> bytes:
    """The rejected event's bytes: the message itself, or the batch item re-serialized."""
    if original is not None:
        return original
    try:
        return orjson.dumps(item)
    except TypeError:  # nested deeper than orjson writes (255 levels; it reads 1024)
        try:
            return json.dumps(item, separators=(",", ":")).encode()
        except RecursionError:
            return b'"batch item nested too deeply to re-serialize"'
