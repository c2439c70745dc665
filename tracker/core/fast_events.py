"""The contract's common events validated without pydantic, where that is certain.

pydantic's validation cost ~5 µs of the ~13 µs an event of a 100-event array cost the
pure pipeline (BENCHMARKS.md, "a decoder's floor"); converting orjson's dict into msgspec
structs with the same fields and bounds costs about 60% of ``parse_event`` (Results,
2026-12-07, night). ``vouch`` takes an event as orjson decoded it and returns a struct
only when it is certain pydantic would accept the event with the very same values;
everything else (``None``) goes the pydantic path as before, so every reject keeps
pydantic's errors and its first broken rule (docs/contract.md#bounds). It trusts what
orjson gives: a dict built otherwise could hold a lone surrogate in a free-text field,
which msgspec takes and pydantic refuses, but orjson refuses the whole message first.

Where the two decoders could disagree, this module declines instead of judging:

- orders: pydantic makes the Decimal revenue out of orjson's float, msgspec would read the
  JSON digits (``12.50`` against ``12.5``, a different exponent in every sum);
- timestamps other than ``YYYY-MM-DDTHH:MM:SS[.ffffff](Z|±HH:MM)`` in the years 1971-9998:
  msgspec rounds a seventh fractional digit where pydantic truncates it (``:00.9999996``
  is ``:01`` to one, ``:00.999999`` to the other: a millisecond apart in event time),
  and the contract also takes forms (lower case, a space) that only pydantic's parse
  has been tested on;
- a send delay near the contract's 366 days, and an experiment without its variant
  (a key present with null counts as named: the struct cannot tell);
- patterns: msgspec matches with Python's ``re``, whose ``$`` also matches before a final
  newline; pydantic's Rust regex does not. Here every pattern ends in ``\\Z``.

``tests/unit/test_fast_events.py`` compares both decoders on generated events, field by
field and type by type. Not compiled by mypyc: msgspec's structs have their own metaclass.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any, Final, Literal

import msgspec
from msgspec import Meta, Struct

from tracker.core.bounds import (
    CAMPAIGN_MAX_CHARS,
    COMMENT_MAX_CHARS,
    EXPERIMENT_NAME_PATTERN,
    MAX_SEND_DELAY_MS,
    REFERRER_MAX_CHARS,
    USER_AGENT_MAX_CHARS,
    VITAL_MAX_VALUE,
)
from tracker.core.contract import (
    Channel,
    Event,
    NavigationType,
    SupportChannel,
    VitalName,
    VitalRating,
    feedback_problem,
    limit_properties,
)


def _whole(pattern: str) -> str:
    """The contract's ``^...$`` pattern, anchored at the very end as pydantic's regex is."""
    if not (pattern.startswith("^") and pattern.endswith("$")):
        raise ValueError(f"an anchored pattern was expected: {pattern}")
    return pattern[:-1] + r"\Z"


# Only the form both decoders read alike, in the local years 1971-9998 that lie in the
# contract's range whatever the offset (``timestamps.SURE_YEARS``); the contract's wider
# forms take the pydantic path. The years are in the pattern: one call per timestamp.
_PLAIN_TIMESTAMP: Final = re.compile(
    r"(?:197[1-9]|19[89][0-9]|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])"
    r"-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])\Z"
)
_plain: Final = _PLAIN_TIMESTAMP.match
# Within a second of the limit, the contract's own two-step comparison decides. A span of
# two datetimes, compared as one: both of one tzinfo (UTC, mostly) subtract without asking it.
_PLAIN_DELAY: Final = timedelta(milliseconds=MAX_SEND_DELAY_MS - 1000)

Text64 = Annotated[str, Meta(min_length=1, max_length=64)]
Text128 = Annotated[str, Meta(min_length=1, max_length=128)]
Touchpoint = Annotated[str, Meta(pattern=_whole(r"^[a-z0-9_./:-]{1,64}$"))]
ExperimentName = Annotated[str, Meta(pattern=_whole(EXPERIMENT_NAME_PATTERN))]


class Consent(Struct, forbid_unknown_fields=True, frozen=True, gc=False):
    analytics: bool
    marketing: bool


# ``gc=False``: a struct holds JSON values only, which make no reference cycles.
class _Base(Struct, forbid_unknown_fields=True, frozen=True, kw_only=True, gc=False):
    schema_version: Literal[1]
    event_id: Text64
    customer_id: Text128
    occurred_at: datetime
    sent_at: datetime | None = None
    channel: Channel
    touchpoint: Touchpoint
    consent: Consent
    properties: dict[str, Any] | None = None
    account_id: Text128 | None = None
    user_agent: Annotated[str, Meta(max_length=USER_AGENT_MAX_CHARS)] | None = None
    experiment: ExperimentName | None = None
    variant: ExperimentName | None = None


class PageView(_Base, frozen=True, gc=False):
    event_type: Literal["page_view"]
    referrer: Annotated[str, Meta(max_length=REFERRER_MAX_CHARS)] | None = None
    campaign: Annotated[str, Meta(max_length=CAMPAIGN_MAX_CHARS)] | None = None


class Interaction(_Base, frozen=True, gc=False):
    event_type: Literal["interaction"]
    action: Text64


class PagePing(_Base, frozen=True, gc=False):
    event_type: Literal["page_ping"]


class ConsentChange(_Base, frozen=True, gc=False):
    event_type: Literal["consent"]


class Feedback(_Base, frozen=True, gc=False):
    event_type: Literal["feedback"]
    nps: Annotated[int, Meta(ge=0, le=10)] | None = None
    csat: Annotated[int, Meta(ge=1, le=5)] | None = None
    ces: Annotated[int, Meta(ge=1, le=7)] | None = None
    comment: Annotated[str, Meta(max_length=COMMENT_MAX_CHARS)] | None = None
    language: Literal["de", "en"] | None = None


class Identify(_Base, frozen=True, gc=False):
    event_type: Literal["identify"]
    anonymous_id: Text128


class WebVital(_Base, frozen=True, gc=False):
    event_type: Literal["web_vital"]
    name: VitalName
    value: Annotated[float, Meta(ge=0, le=VITAL_MAX_VALUE)]
    rating: VitalRating
    navigation_type: NavigationType | None = None


class _Support(_Base, frozen=True, gc=False):
    ticket_id: Text64
    support_channel: SupportChannel


class SupportContact(_Support, frozen=True, gc=False):
    event_type: Literal["support_contact"]


class SupportReply(_Support, frozen=True, gc=False):
    event_type: Literal["support_reply"]


class SupportResolved(_Support, frozen=True, gc=False):
    event_type: Literal["support_resolved"]


FastEvent = (
    PageView
    | Interaction
    | PagePing
    | ConsentChange
    | Feedback
    | Identify
    | WebVital
    | SupportContact
    | SupportReply
    | SupportResolved
)
# Either decoder's event: what ``ingest.Valid`` carries and the pure logic reads.
AnyEvent = Event | FastEvent
STRUCTS: Final[dict[str, type[FastEvent]]] = {
    "page_view": PageView,
    "interaction": Interaction,
    "page_ping": PagePing,
    "consent": ConsentChange,
    "feedback": Feedback,
    "identify": Identify,
    "web_vital": WebVital,
    "support_contact": SupportContact,
    "support_reply": SupportReply,
    "support_resolved": SupportResolved,
}


def vouch(item: Any) -> FastEvent | None:
    """The event, when pydantic would certainly accept it with these values; else None."""
    if type(item) is not dict:
        return None
    kind = item.get("event_type")
    if type(kind) is not str:
        return None
    struct = STRUCTS.get(kind)
    occurred, sent = item.get("occurred_at"), item.get("sent_at")
    if (
        struct is None
        or type(occurred) is not str
        or _plain(occurred) is None
        or (sent is not None and (type(sent) is not str or _plain(sent) is None))
        or ("experiment" in item) is not ("variant" in item)
    ):
        return None
    try:
        event: FastEvent = msgspec.convert(item, struct)
    except msgspec.ValidationError:
        return None
    if event.sent_at is not None and abs(event.sent_at - event.occurred_at) > _PLAIN_DELAY:
        return None
    if event.properties is not None:
        try:
            limit_properties(event.properties)
        except ValueError:
            return None
    if type(event) is Feedback and feedback_problem(event) is not None:
        return None
    return event


def plain_timestamp(value: Any) -> bool:
    """A timestamp in the one form both decoders read alike, in the years 1971-9998."""
    return type(value) is str and _plain(value) is not None
