"""What a decoder without pydantic would cost per event: the floor of issue 19's fast path.

``python -m bench.decoder_floor`` decodes the benchmark's 1-, 10- and 100-event messages
four ways, in this process, and prints microseconds of thread CPU per event (best of
``--rounds``):

- ``classify``: the tracker's own step (JSON, consent, pydantic's validation, bots);
- ``orjson + pydantic``: the JSON decode and ``parse_event`` alone;
- ``orjson``: the JSON decode alone;
- ``msgspec``: msgspec structs mirroring the contract's fields and bounds, decoded
  straight from the bytes, plus the checks msgspec cannot state (the time range, the
  revenue's range and places).

An experiment, not a decoder the tracker uses: a message whose structs fail to decode
(any event of it invalid, or a bound only pydantic states) would go the pydantic path,
and the run counts those messages. It checks, on every message msgspec accepts, that
pydantic accepts each of its events with the same id, type and event time, so the
figure is not that of a looser decoder.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec
import orjson
from msgspec import Meta, Struct

from bench.streams import base_stream, regroup
from tracker.core import FORM
from tracker.core.bounds import (
    CAMPAIGN_MAX_CHARS,
    COMMENT_MAX_CHARS,
    EARLIEST,
    EXPERIMENT_NAME_PATTERN,
    LATEST,
    REFERRER_MAX_CHARS,
    REVENUE_DECIMALS,
    REVENUE_MAX,
    USER_AGENT_MAX_CHARS,
    VITAL_MAX_VALUE,
)
from tracker.core.contract import (
    Channel,
    NavigationType,
    SupportChannel,
    VitalName,
    VitalRating,
    parse_event,
)
from tracker.core.ingest import Limits, classify

Text64 = Annotated[str, Meta(min_length=1, max_length=64)]
Text128 = Annotated[str, Meta(min_length=1, max_length=128)]
Moment = Annotated[datetime, Meta(tz=True)]
Touchpoint = Annotated[str, Meta(pattern=r"^[a-z0-9_./:-]{1,64}$")]
ExperimentName = Annotated[str, Meta(pattern=EXPERIMENT_NAME_PATTERN)]


class Consent(Struct, forbid_unknown_fields=True):
    analytics: bool
    marketing: bool


class Base(Struct, forbid_unknown_fields=True, tag_field="event_type", kw_only=True):
    schema_version: Literal[1]
    event_id: Text64
    customer_id: Text128
    occurred_at: Moment
    channel: Channel
    touchpoint: Touchpoint
    consent: Consent
    sent_at: Moment | None = None
    properties: dict[str, Any] | None = None
    account_id: Text128 | None = None
    user_agent: Annotated[str, Meta(max_length=USER_AGENT_MAX_CHARS)] | None = None
    experiment: ExperimentName | None = None
    variant: ExperimentName | None = None


class PageView(Base, tag="page_view"):
    referrer: Annotated[str, Meta(max_length=REFERRER_MAX_CHARS)] | None = None
    campaign: Annotated[str, Meta(max_length=CAMPAIGN_MAX_CHARS)] | None = None


class Interaction(Base, tag="interaction"):
    action: Text64


class PagePing(Base, tag="page_ping"):
    pass


class Order(Base, tag="order"):
    order_id: Text64
    revenue: Decimal  # msgspec bounds no Decimal: checked after the decode
    currency: Annotated[str, Meta(pattern=r"^[A-Z]{3}$")]


class ConsentChange(Base, tag="consent"):
    pass


class Feedback(Base, tag="feedback"):
    nps: Annotated[int, Meta(ge=0, le=10)] | None = None
    csat: Annotated[int, Meta(ge=1, le=5)] | None = None
    ces: Annotated[int, Meta(ge=1, le=7)] | None = None
    comment: Annotated[str, Meta(max_length=COMMENT_MAX_CHARS)] | None = None
    language: Literal["de", "en"] | None = None


class Identify(Base, tag="identify"):
    anonymous_id: Text128


class WebVital(Base, tag="web_vital"):
    name: VitalName
    value: Annotated[float, Meta(ge=0, le=VITAL_MAX_VALUE)]
    rating: VitalRating
    navigation_type: NavigationType | None = None


class SupportContact(Base, tag="support_contact"):
    ticket_id: Text64
    support_channel: SupportChannel


class SupportReply(SupportContact, tag="support_reply"):
    pass


class SupportResolved(SupportContact, tag="support_resolved"):
    pass


AnyEvent = (
    PageView
    | Interaction
    | PagePing
    | Order
    | ConsentChange
    | Feedback
    | Identify
    | WebVital
    | SupportContact
    | SupportReply
    | SupportResolved
)
_ONE = msgspec.json.Decoder(AnyEvent)
_MANY = msgspec.json.Decoder(list[AnyEvent])


def structs(value: bytes) -> list[Base] | None:
    """The message's events as structs, or None: the message would go the pydantic path."""
    try:
        many = value[:1] == b"["
        events: list[Base] = list(_MANY.decode(value)) if many else [_ONE.decode(value)]
    except msgspec.MsgspecError:
        return None
    for event in events:
        if not EARLIEST <= event.occurred_at <= LATEST:
            return None
        if event.sent_at is not None and not EARLIEST <= event.sent_at <= LATEST:
            return None
        if isinstance(event, Order) and not _plain_revenue(event.revenue):
            return None
    return events


def _plain_revenue(revenue: Decimal) -> bool:
    exponent = revenue.as_tuple().exponent
    return (
        isinstance(exponent, int) and -exponent <= REVENUE_DECIMALS and 0 <= revenue <= REVENUE_MAX
    )


def check_subset(values: Sequence[bytes]) -> int:
    """Messages msgspec accepts whose events pydantic accepts alike (else AssertionError);
    returns the number of messages that would go the pydantic path."""
    fallbacks = 0
    for value in values:
        events = structs(value)
        if events is None:
            fallbacks += 1
            continue
        decoded = orjson.loads(value)
        for event, item in zip(
            events, decoded if isinstance(decoded, list) else [decoded], strict=True
        ):
            model = parse_event(item)  # raises if pydantic would reject what msgspec took
            assert (model.event_id, model.event_type) == (event.event_id, item["event_type"])
            assert model.occurred_at == event.occurred_at
    return fallbacks


def _json_and_pydantic(value: bytes) -> None:
    try:
        decoded = orjson.loads(value)
    except orjson.JSONDecodeError:
        return
    for item in decoded if isinstance(decoded, list) else [decoded]:
        with contextlib.suppress(ValueError):  # pydantic's ValidationError is one
            parse_event(item)


def _json(value: bytes) -> None:
    with contextlib.suppress(orjson.JSONDecodeError):
        orjson.loads(value)


def _best(decode: Callable[[bytes], object], values: Sequence[bytes], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.thread_time()
        for value in values:
            decode(value)
        best = min(best, time.thread_time() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    base = base_stream(20251123, 60_000, 1_796_000_000_000)
    limits = Limits()
    print(f"core: {FORM}; best of {args.rounds}, µs of thread CPU per event")
    for shape in (1, 10, 100):
        messages = base[:15_000] if shape == 1 else regroup(base, shape)
        values = [m.value for m in messages]
        per_event = 1e6 / sum(m.events for m in messages)
        fallbacks = check_subset(values)
        ways: list[tuple[str, Callable[[bytes], object]]] = [
            ("classify", lambda v: classify("key", v, limits)),
            ("orjson + pydantic", _json_and_pydantic),
            ("orjson", _json),
            ("msgspec", structs),
        ]
        costs = ", ".join(
            f"{name} {_best(way, values, args.rounds) * per_event:.2f}" for name, way in ways
        )
        print(
            f"{shape:>3}-event messages: {costs}; "
            f"{fallbacks:,} of {len(values):,} messages would go the pydantic path"
        )


if __name__ == "__main__":
    main()
