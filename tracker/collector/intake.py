"""Taking a request body apart: decode, validate each event, group per customer.

Pure functions: no I/O, no clock. Events are validated with the contract's
pydantic models, but what goes to Kafka is the item exactly as the client
sent it (``sent_at`` included), so the worker sees the device's own times
and corrects clock skew against the record timestamp the collector sets, and
judges each event's ``user_agent`` (docs/metrics.md#bots).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeGuard

import orjson
from pydantic import ValidationError

from tracker.collector.errors import BadBatchError
from tracker.core.bounds import rule_of
from tracker.core.contract import parse_event

MAX_ERRORS_PER_EVENT = 10


@dataclass(frozen=True, slots=True)
class Message:
    """One Kafka record: a customer's events as a JSON array, keyed by the customer."""

    key: bytes
    value: bytes
    events: int


@dataclass(frozen=True, slots=True)
class Rejected:
    index: int
    event_id: str | None
    errors: tuple[dict[str, str], ...]

    def as_json(self) -> dict[str, Any]:
        return {"index": self.index, "event_id": self.event_id, "errors": list(self.errors)}


@dataclass(slots=True)
class Intake:
    """What became of each event of one request."""

    groups: dict[str, list[Any]] = field(default_factory=dict)  # customer_id -> items, in order
    accepted: int = 0
    no_consent: int = 0
    rejected: list[Rejected] = field(default_factory=list)

    def messages(self) -> list[Message]:
        return [
            Message(customer.encode(), orjson.dumps(items), len(items))
            for customer, items in self.groups.items()
        ]


def decode(body: bytes, max_events: int) -> list[Any]:
    """The items of a batch: a JSON array of events (a single object is a batch of one)."""
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadBatchError(400, "invalid_json", f"the body is not UTF-8 JSON: {exc}") from None
    if isinstance(decoded, dict):
        return [decoded]
    if not isinstance(decoded, list) or not decoded:
        raise BadBatchError(
            400, "invalid_json", "the body must be a non-empty JSON array of events"
        )
    if len(decoded) > max_events:
        detail = f"{len(decoded)} events in one request; at most {max_events}"
        raise BadBatchError(413, "too_many_events", detail)
    return decoded


def without_user_agent(items: list[Any]) -> list[Any]:
    """The items without ``user_agent``: a source whose bots are let through
    (TRACKER_BOT_FILTER_OFF) must not have them dropped by the worker either."""
    return [
        {k: v for k, v in item.items() if k != "user_agent"}
        if isinstance(item, dict) and "user_agent" in item
        else item
        for item in items
    ]


def validate(items: list[Any]) -> Intake:
    """Sort items into accepted (grouped per customer), dropped for no consent, rejected."""
    intake = Intake()
    for index, item in enumerate(items):
        consent = item.get("consent") if isinstance(item, dict) else None
        analytics = consent.get("analytics") if isinstance(consent, dict) else None
        # Same order of checks as the worker (docs/metrics.md#order-of-checks): consent
        # decides first, and by default it is denied: only analytics: true goes on.
        if analytics is not True:
            withdrawal = analytics is False and item.get("event_type") == "consent"
            customer = item.get("customer_id") if withdrawal else None
            if _usable(customer):
                _accept(intake, customer, item)  # a withdrawal passes even when malformed
            else:
                intake.no_consent += 1  # never stored: not even in Kafka
            continue
        try:
            event = parse_event(item)
        except ValidationError as exc:
            intake.rejected.append(Rejected(index, _event_id(item), _errors(exc, item)))
            continue
        _accept(intake, event.customer_id, item)
    return intake


def _usable(customer: Any) -> TypeGuard[str]:
    return isinstance(customer, str) and 1 <= len(customer) <= 128


def _accept(intake: Intake, customer: str, item: Any) -> None:
    intake.groups.setdefault(customer, []).append(item)
    intake.accepted += 1


def _event_id(item: Any) -> str | None:
    value = item.get("event_id") if isinstance(item, dict) else None
    return value[:64] if isinstance(value, str) else None


def _errors(exc: ValidationError, item: Any) -> tuple[dict[str, str], ...]:
    tag = item.get("event_type") if isinstance(item, dict) else None
    out = []
    for error in exc.errors(include_url=False, include_input=False)[:MAX_ERRORS_PER_EVENT]:
        loc = list(error["loc"])
        if loc and loc[0] == tag:
            loc = loc[1:]  # the discriminator's branch name says nothing to the client
        out.append(
            {
                "field": ".".join(str(p) for p in loc) or "event",
                "message": error["msg"],
                # The same rule the worker's dead letter names (docs/contract.md#bounds).
                "rule": rule_of(error),
            }
        )
    return tuple(out)
